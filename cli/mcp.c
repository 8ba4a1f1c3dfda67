/*
 * Model Context Protocol server for agentid (stdio transport).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/agentcmd.h"
#include "cli/client.h"
#include "cli/cliutil.h"
#include "cli/mcp.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/jsonl.h"
#include "common/xmalloc.h"

#define RPC_PARSE	(-32700)
#define RPC_INVALID	(-32600)
#define RPC_METHOD	(-32601)
#define RPC_PARAMS	(-32602)
#define RPC_INTERNAL	(-32603)

#define CONNECT_TIMEOUT_MS	(5 * 1000)
#define ANSWER_MARGIN_MS	(15 * 1000)
#define QUICK_TIMEOUT_MS	(10 * 1000)

enum tool {
	TOOL_GET_IDENTITY,
	TOOL_WAIT_CODE,
	TOOL_WAIT_LINK,
	TOOL_LIST_PENDING
};

static const char *const tool_names[] = {
	"get_identity", "wait_for_code", "wait_for_link", "list_pending"
};

/* One tool call waiting for the daemon's answer. */
struct call {
	int		 fd;		/* -1: slot free */
	json_t		*id;		/* JSON-RPC id, owned */
	enum tool	 tool;
	long long	 timeout;	/* s, for messages */
	long long	 deadline;	/* monotonic ms */
	struct buf	 b;
};

struct mcp {
	int		 in, out;
	const char	*socket;	/* borrowed */
	const char	*token;		/* borrowed */
	char		 version[16];	/* negotiated, "" before initialize */
	struct buf	 inb;
	int		 skipping;	/* dropping an oversize line */
	int		 eof;
	struct call	 calls[MCP_MAX_CALLS];
};

/* Write one message (stolen) as a line. */
static void
send_msg(struct mcp *m, json_t *msg)
{
	char *s;
	size_t len;

	s = jsonl_dump(msg, &len);
	json_decref(msg);
	if (s == NULL)
		return;
	/* A reader that went away ends us at the next read of stdin. */
	(void)jsonl_write_all(m->out, s, len);
	explicit_bzero(s, len);
	free(s);
}

static void
send_result(struct mcp *m, json_t *id, json_t *result)
{
	json_t *o = json_object();

	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id);
	json_object_set_new(o, "result", result);
	send_msg(m, o);
}

static void
send_error(struct mcp *m, json_t *id, int code, const char *message)
{
	json_t *o = json_object(), *e = json_object();

	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(o, "error", e);
	send_msg(m, o);
}

/* A tool result: text content (JSON of data, or a message) and, from
 * 2025-06-18 on, the same data as structuredContent. */
static json_t *
tool_result(struct mcp *m, json_t *data, const char *text, int is_error)
{
	json_t *r = json_object(), *content = json_array(), *c = json_object();
	char *dump = NULL;

	if (data != NULL)
		dump = json_dumps(data, JSON_COMPACT);
	json_object_set_new(c, "type", json_string("text"));
	json_object_set_new(c, "text", json_string(dump ? dump : text));
	json_array_append_new(content, c);
	json_object_set_new(r, "content", content);
	if (data != NULL && strcmp(m->version, "2025-06-18") == 0)
		json_object_set(r, "structuredContent", data);
	json_object_set_new(r, "isError", json_boolean(is_error));
	if (dump != NULL) {
		explicit_bzero(dump, strlen(dump));
		free(dump);
	}
	json_decref(data);
	return r;
}

static json_t *
prop(const char *type, const char *desc)
{
	return json_pack("{s:s, s:s}", "type", type, "description", desc);
}

/* The input schema shared by the wait and list tools. */
static json_t *
filter_schema(int with_kind, int with_timeout)
{
	json_t *p = json_object();

	if (with_kind)
		json_object_set_new(p, "kind", json_pack("{s:s, s:[sss], "
		    "s:s}", "type", "string", "enum", "code", "link", "any",
		    "description", "only codes, only links, or both "
		    "(default any)"));
	json_object_set_new(p, "channel", json_pack("{s:s, s:[sss], s:s}",
	    "type", "string", "enum", "sms", "email", "any", "description",
	    "where it arrived (default any)"));
	json_object_set_new(p, "from", prop("string", "the sender contains "
	    "this text, e.g. \"github.com\" or a phone number"));
	json_object_set_new(p, "origin", prop("string", "the domain the code "
	    "is bound to or the link points to, e.g. \"github.com\""));
	json_object_set_new(p, "since", prop("integer", "only what arrived "
	    "at or after this unix time (default: 5 minutes ago)"));
	if (with_timeout)
		json_object_set_new(p, "timeout", json_pack("{s:s, s:i, s:i, "
		    "s:i, s:s}", "type", "integer", "minimum", 0, "maximum",
		    86400, "default", AGENTCMD_DEFAULT_WAIT, "description",
		    "seconds to wait, at most the daemon's wait_max (300 by "
		    "default); 0 only looks at what is already there"));
	return json_pack("{s:s, s:o, s:b}", "type", "object", "properties", p,
	    "additionalProperties", 0);
}

static json_t *
tools_list(void)
{
	json_t *tools = json_array();

	json_array_append_new(tools, json_pack("{s:s, s:s, s:s, s:{s:s, "
	    "s:{}, s:b}, s:{s:b, s:b}}",
	    "name", "get_identity", "title", "My email address and phone "
	    "number", "description", "The email address and phone number "
	    "this agent owns; use them when a site asks where to send a "
	    "verification code.",
	    "inputSchema", "type", "object", "properties",
	    "additionalProperties", 0,
	    "annotations", "readOnlyHint", 1, "openWorldHint", 0));
	json_array_append_new(tools, json_pack("{s:s, s:s, s:s, s:o, "
	    "s:{s:b, s:b, s:b}}",
	    "name", "wait_for_code", "title", "Wait for a one-time code",
	    "description", "Wait for the newest one-time code sent to this "
	    "agent's email or phone and return it (delivered once). Trigger "
	    "the site's send first, then call this. Never returns the "
	    "message body.",
	    "inputSchema", filter_schema(0, 1),
	    "annotations", "readOnlyHint", 0, "destructiveHint", 0,
	    "openWorldHint", 0));
	json_array_append_new(tools, json_pack("{s:s, s:s, s:s, s:o, "
	    "s:{s:b, s:b, s:b}}",
	    "name", "wait_for_link", "title", "Wait for a confirmation link",
	    "description", "Wait for the newest confirmation or magic link "
	    "sent to this agent and return its URL (delivered once). Never "
	    "returns the message body.",
	    "inputSchema", filter_schema(0, 1),
	    "annotations", "readOnlyHint", 0, "destructiveHint", 0,
	    "openWorldHint", 0));
	json_array_append_new(tools, json_pack("{s:s, s:s, s:s, s:o, "
	    "s:{s:b, s:b}}",
	    "name", "list_pending", "title", "List codes and links waiting",
	    "description", "Metadata (sender, subject, kind, time) of the "
	    "codes and links waiting for this agent, without their values.",
	    "inputSchema", filter_schema(1, 0),
	    "annotations", "readOnlyHint", 1, "openWorldHint", 0));
	return json_pack("{s:o}", "tools", tools);
}

static json_t *
initialize(struct mcp *m, json_t *params)
{
	static const char *versions[] = MCP_VERSIONS;
	const char *want = json_string_value(json_object_get(params,
	    "protocolVersion"));
	size_t i;

	xstrlcpy(m->version, versions[0], sizeof(m->version));
	for (i = 0; want != NULL && i < sizeof(versions) / sizeof(versions[0]);
	    i++)
		if (strcmp(want, versions[i]) == 0)
			xstrlcpy(m->version, versions[i], sizeof(m->version));
	return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
	    "protocolVersion", m->version,
	    "capabilities", "tools", "listChanged", 0,
	    "serverInfo", "name", "agentid", "title", "agentid",
	    "version", "0.1",
	    "instructions", "This server gives you your own email address "
	    "and phone number (get_identity) and the one-time codes and "
	    "confirmation links sent to them (wait_for_code, wait_for_link). "
	    "Start the site's verification first, then wait.");
}

/* Check arguments against what the tool accepts; -1 with *why. */
static int
tool_args(enum tool t, json_t *args, json_t *req, long long *timeout,
    const char **why)
{
	static const char *allowed[] = { "kind", "channel", "from", "origin",
	    "since", "timeout", NULL };
	const char *key, *kind = NULL, *channel, *from, *origin;
	long long since = -1;
	json_t *v;
	size_t i;

	*timeout = -1;
	if (args == NULL || json_is_null(args))
		args = NULL;
	else if (!json_is_object(args)) {
		*why = "arguments must be an object";
		return -1;
	}
	json_object_foreach(args, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL || t == TOOL_GET_IDENTITY ||
		    (strcmp(key, "kind") == 0 && t != TOOL_LIST_PENDING) ||
		    (strcmp(key, "timeout") == 0 && t == TOOL_LIST_PENDING)) {
			*why = "unknown argument";
			return -1;
		}
		if ((strcmp(key, "since") == 0 || strcmp(key, "timeout") == 0)
		    ? !json_is_integer(v) : !json_is_string(v)) {
			*why = "argument of the wrong type";
			return -1;
		}
	}
	if (t == TOOL_GET_IDENTITY)
		return 0;
	if (t == TOOL_WAIT_CODE)
		kind = "code";
	else if (t == TOOL_WAIT_LINK)
		kind = "link";
	else
		kind = json_string_value(json_object_get(args, "kind"));
	channel = json_string_value(json_object_get(args, "channel"));
	from = json_string_value(json_object_get(args, "from"));
	origin = json_string_value(json_object_get(args, "origin"));
	if ((v = json_object_get(args, "since")) != NULL) {
		since = json_integer_value(v);
		if (since < 0) {
			*why = "since must be a unix time";
			return -1;
		}
	}
	if ((v = json_object_get(args, "timeout")) != NULL) {
		*timeout = json_integer_value(v);
		if (*timeout < 0 || *timeout > 86400) {
			*why = "timeout must be 0 to 86400 seconds";
			return -1;
		}
	}
	return agentcmd_filters(req, kind, channel, from, origin, since,
	    *timeout, why);
}

static struct call *
call_slot(struct mcp *m)
{
	size_t i;

	for (i = 0; i < MCP_MAX_CALLS; i++)
		if (m->calls[i].fd == -1)
			return &m->calls[i];
	return NULL;
}

static void
call_end(struct call *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	json_decref(c->id);
	c->id = NULL;
	buf_clear(&c->b);
}

/* Wipe the token inside a request before it is freed. */
static void
req_free(json_t *req)
{
	const char *t = json_string_value(json_object_get(req, "token"));

	if (t != NULL)
		explicit_bzero((char *)(uintptr_t)t, strlen(t));
	json_decref(req);
}

static void
tools_call(struct mcp *m, json_t *id, json_t *params)
{
	const char *name, *why = NULL;
	enum client_status st;
	struct call *c;
	json_t *req = NULL;
	long long timeout;
	size_t i;

	name = json_string_value(json_object_get(params, "name"));
	if (!json_is_object(params) || name == NULL) {
		send_error(m, id, RPC_PARAMS, "tools/call needs a tool name");
		return;
	}
	for (i = 0; i < 4; i++)
		if (strcmp(name, tool_names[i]) == 0)
			break;
	if (i == 4) {
		send_error(m, id, RPC_PARAMS, "unknown tool");
		return;
	}
	req = json_object();
	json_object_set_new(req, "op", json_string(i == TOOL_GET_IDENTITY ?
	    "whoami" : i == TOOL_LIST_PENDING ? "list" : "wait"));
	json_object_set_new(req, "token", json_string(m->token));
	json_object_set_new(req, "v", json_integer(1));
	if (tool_args((enum tool)i, json_object_get(params, "arguments"), req,
	    &timeout, &why) == -1) {
		char msg[160];

		snprintf(msg, sizeof(msg), "invalid arguments for %s: %s",
		    name, why);
		send_error(m, id, RPC_PARAMS, msg);
		goto done;
	}
	if ((c = call_slot(m)) == NULL) {
		send_result(m, id, tool_result(m, NULL, "too many tool calls in "
		    "progress; try again when one has finished", 1));
		goto done;
	}
	c->fd = client_connect(m->socket, CONNECT_TIMEOUT_MS, &st, &why);
	if (c->fd == -1 || client_send(c->fd, req, &why) == -1) {
		char msg[256];

		snprintf(msg, sizeof(msg), "agentid daemon unreachable at "
		    "%s: %s (is agentidd running?)", m->socket, why);
		send_result(m, id, tool_result(m, NULL, msg, 1));
		call_end(c);
		goto done;
	}
	c->tool = (enum tool)i;
	c->id = json_incref(id);
	c->timeout = timeout >= 0 ? timeout : AGENTCMD_DEFAULT_WAIT;
	c->deadline = clock_ms() + (c->tool == TOOL_WAIT_CODE ||
	    c->tool == TOOL_WAIT_LINK ? c->timeout * 1000 + ANSWER_MARGIN_MS :
	    QUICK_TIMEOUT_MS);
	buf_init(&c->b, client_bufmax());
done:
	req_free(req);
}

/* Keys of the daemon's answer that a tool result may carry: never a
 * body, whatever a future daemon adds. */
static json_t *
pick(const json_t *from, const char *const *keys)
{
	json_t *o = json_object(), *v;
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if ((v = json_object_get(from, keys[i])) != NULL)
			json_object_set(o, keys[i], v);
	return o;
}

/* Turn the daemon's answer (or its absence) into the tool result. */
static void
call_finish(struct mcp *m, struct call *c, json_t *resp, const char *fail)
{
	static const char *ident_keys[] = { "agent", "email", "phone", NULL };
	static const char *secret_keys[] = { "id", "kind", "channel", "from",
	    "subject", "origin", "received_at", "link_domain", NULL };
	static const char *list_keys[] = { "id", "kind", "channel", "from",
	    "subject", "origin", "received_at", "link_domain", "state",
	    NULL };
	json_t *result, *data, *secret, *list, *e;
	const char *value;
	char msg[512];
	size_t i;

	if (resp == NULL) {
		snprintf(msg, sizeof(msg), "agentid daemon: %s", fail);
		result = tool_result(m, NULL, msg, 1);
	} else if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *err = client_error(resp);

		if (strcmp(err, "timeout") == 0)
			snprintf(msg, sizeof(msg), "timeout: nothing matching "
			    "arrived within %lld s; check that the site sent "
			    "it, then call again", c->timeout);
		else
			snprintf(msg, sizeof(msg), "%s: %s", err,
			    client_message(resp));
		result = tool_result(m, NULL, msg, 1);
	} else if (c->tool == TOOL_GET_IDENTITY) {
		result = tool_result(m, pick(resp, ident_keys), NULL, 0);
	} else if (c->tool == TOOL_LIST_PENDING) {
		data = json_object();
		list = json_array();
		json_array_foreach(json_object_get(resp, "secrets"), i, e)
			json_array_append_new(list, pick(e, list_keys));
		json_object_set_new(data, "secrets", list);
		result = tool_result(m, data, NULL, 0);
	} else {
		secret = json_object_get(resp, "secret");
		value = json_string_value(json_object_get(secret, "value"));
		if (value == NULL) {
			result = tool_result(m, NULL, "agentid daemon: answer "
			    "without a value", 1);
		} else {
			/* The value first: it is what the model needs. */
			data = json_object();
			json_object_set_new(data, c->tool == TOOL_WAIT_CODE ?
			    "code" : "link", json_string(value));
			e = pick(secret, secret_keys);
			json_object_update(data, e);
			json_decref(e);
			result = tool_result(m, data, NULL, 0);
			explicit_bzero((char *)(uintptr_t)value, strlen(value));
		}
	}
	send_result(m, c->id, result);
	call_end(c);
}

static void
call_read(struct mcp *m, struct call *c)
{
	enum jsonl_status js;
	const char *errstr = NULL;
	json_t *resp = NULL;
	char chunk[4096];
	ssize_t n;

	n = read(c->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		call_finish(m, c, NULL, "connection closed without an answer");
		return;
	}
	if (buf_add(&c->b, chunk, (size_t)n) == -1) {
		call_finish(m, c, NULL, "answer too long");
		return;
	}
	js = jsonl_next(&c->b, &resp, &errstr);
	if (js == JSONL_MORE)
		return;		/* a partial line: wait for more */
	if (js != JSONL_OK || !json_is_boolean(json_object_get(resp, "ok")))
		call_finish(m, c, NULL, "malformed answer");
	else
		call_finish(m, c, resp, NULL);
	json_decref(resp);
}

static void
cancel(struct mcp *m, json_t *params)
{
	json_t *id = json_object_get(params, "requestId");
	size_t i;

	for (i = 0; id != NULL && i < MCP_MAX_CALLS; i++)
		if (m->calls[i].fd != -1 && json_equal(m->calls[i].id, id))
			call_end(&m->calls[i]);
}

/* One JSON-RPC message from the client. */
static void
handle(struct mcp *m, json_t *msg)
{
	json_t *id, *params;
	const char *method;

	if (!json_is_object(msg)) {
		send_error(m, NULL, RPC_INVALID, json_is_array(msg) ?
		    "batches are not supported" : "not a JSON-RPC message");
		return;
	}
	id = json_object_get(msg, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id)) {
		send_error(m, NULL, RPC_INVALID, "id must be a string or an "
		    "integer");
		return;
	}
	method = json_string_value(json_object_get(msg, "method"));
	if (method == NULL && (json_object_get(msg, "result") != NULL ||
	    json_object_get(msg, "error") != NULL))
		return;		/* a response: we send no requests */
	if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0")
	    != 0 || method == NULL) {
		send_error(m, id, RPC_INVALID, "not a JSON-RPC 2.0 request");
		return;
	}
	params = json_object_get(msg, "params");
	if (params != NULL && !json_is_object(params) &&
	    !json_is_array(params)) {
		if (id != NULL)
			send_error(m, id, RPC_INVALID, "params must be "
			    "structured");
		return;
	}
	if (id == NULL) {
		if (strcmp(method, "notifications/cancelled") == 0)
			cancel(m, params);
		return;		/* notifications/initialized and others */
	}
	if (strcmp(method, "initialize") == 0) {
		if (!json_is_object(params) || !json_is_string(
		    json_object_get(params, "protocolVersion")))
			send_error(m, id, RPC_PARAMS, "initialize needs "
			    "protocolVersion");
		else
			send_result(m, id, initialize(m, params));
	} else if (strcmp(method, "ping") == 0) {
		send_result(m, id, json_object());
	} else if (strcmp(method, "tools/list") == 0) {
		send_result(m, id, tools_list());
	} else if (strcmp(method, "tools/call") == 0) {
		tools_call(m, id, params);
	} else {
		send_error(m, id, RPC_METHOD, "method not found");
	}
}

/* Read what stdin has and handle each complete line. */
static void
read_input(struct mcp *m)
{
	char chunk[8192];
	ssize_t n;
	char *nl;

	n = read(m->in, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		m->eof = 1;
		return;
	}
	if (buf_add(&m->inb, chunk, (size_t)n) == -1) {
		/* An oversize line: answer once, then drop through its end. */
		if (!m->skipping)
			send_error(m, NULL, RPC_PARSE, "message too large");
		m->skipping = 1;
		buf_reset(&m->inb);
		nl = memchr(chunk, '\n', (size_t)n);
		if (nl != NULL) {
			m->skipping = 0;
			buf_add(&m->inb, nl + 1, (size_t)(chunk + n - nl - 1));
		}
	}
	while (m->inb.len > 0 &&
	    (nl = memchr(m->inb.data, '\n', m->inb.len)) != NULL) {
		size_t len = (size_t)(nl - m->inb.data);
		json_error_t jerr;
		json_t *msg;

		if (m->skipping) {
			m->skipping = 0;
			buf_consume(&m->inb, len + 1);
			continue;
		}
		if (len > 0 && m->inb.data[len - 1] == '\r')
			len--;
		if (len == 0) {
			buf_consume(&m->inb, (size_t)(nl - m->inb.data) + 1);
			continue;
		}
		msg = json_loadb(m->inb.data, len, JSON_REJECT_DUPLICATES |
		    JSON_DECODE_ANY, &jerr);
		buf_consume(&m->inb, (size_t)(nl - m->inb.data) + 1);
		if (msg == NULL) {
			send_error(m, NULL, RPC_PARSE, "parse error");
			continue;
		}
		handle(m, msg);
		json_decref(msg);
	}
}

int
mcp_run(int in_fd, int out_fd, const char *socket, const char *token)
{
	struct mcp m;
	struct pollfd pfd[MCP_MAX_CALLS + 1];
	size_t i;

	memset(&m, 0, sizeof(m));
	m.in = in_fd;
	m.out = out_fd;
	m.socket = socket;
	m.token = token;
	buf_init(&m.inb, MCP_MAX_LINE);
	for (i = 0; i < MCP_MAX_CALLS; i++)
		m.calls[i].fd = -1;
	while (!m.eof) {
		long long now = clock_ms(), next = -1;
		int n = 0, r;

		pfd[n].fd = m.in;
		pfd[n++].events = POLLIN;
		for (i = 0; i < MCP_MAX_CALLS; i++) {
			struct call *c = &m.calls[i];

			if (c->fd == -1)
				continue;
			if (now >= c->deadline) {
				call_finish(&m, c, NULL, "no answer in time");
				continue;
			}
			if (next == -1 || c->deadline - now < next)
				next = c->deadline - now;
		}
		for (i = 0; i < MCP_MAX_CALLS; i++) {
			pfd[i + 1].fd = m.calls[i].fd;
			pfd[i + 1].events = POLLIN;
			pfd[i + 1].revents = 0;
		}
		r = poll(pfd, MCP_MAX_CALLS + 1, (int)next);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		for (i = 0; i < MCP_MAX_CALLS; i++)
			if (m.calls[i].fd != -1 &&
			    pfd[i + 1].fd == m.calls[i].fd &&
			    (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				call_read(&m, &m.calls[i]);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_input(&m);
	}
	for (i = 0; i < MCP_MAX_CALLS; i++)
		if (m.calls[i].fd != -1)
			call_end(&m.calls[i]);
	buf_clear(&m.inb);
	return EXIT_OK;
}
