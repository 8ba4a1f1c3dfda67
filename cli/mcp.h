/*
 * mcp: "agentid mcp", a Model Context Protocol server on stdio (JSON-RPC
 * 2.0, one message a line) that lets an agent framework use the agent
 * socket as tools: get_identity, wait_for_code, wait_for_link,
 * list_pending.  Tool results carry codes, links and metadata, never
 * message bodies.  Waits run concurrently, so ping and cancellation work
 * while a tool call blocks.
 */
#ifndef MCP_H
#define MCP_H

/* Protocol versions spoken; the newest is offered when the client asks
 * for one we do not know. */
#define MCP_VERSIONS		{ "2025-06-18", "2025-03-26", "2024-11-05" }
#define MCP_MAX_LINE		(1024 * 1024)
#define MCP_MAX_CALLS		16

/*
 * Serve on in_fd/out_fd until end of input.  socket is the agent socket
 * path, token the agent's token (both borrowed; the caller wipes the
 * token).  Returns an exit code: 0 at end of input.
 */
int	mcp_run(int in_fd, int out_fd, const char *socket, const char *token);

#endif
