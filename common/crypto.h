/*
 * crypto: the few primitives the daemon needs, from GnuTLS.
 */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN		32
#define CRYPTO_NONCE_LEN	12
#define CRYPTO_TAG_LEN		16
#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SHA1_LEN		20

/* Fill buf with n random bytes (GNUTLS_RND_KEY); fatal on failure. */
void	crypto_random(void *buf, size_t n);

void	crypto_sha256(const void *in, size_t len,
	    uint8_t out[CRYPTO_SHA256_LEN]);
void	crypto_hmac_sha256(const void *key, size_t keylen, const void *in,
	    size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
void	crypto_hmac_sha1(const void *key, size_t keylen, const void *in,
	    size_t len, uint8_t out[CRYPTO_SHA1_LEN]);

/* Constant-time comparison; 1 when equal. */
int	crypto_equal(const void *a, const void *b, size_t n);

/*
 * AES-256-GCM.  seal writes nonce || ciphertext || tag into a new heap
 * buffer (*out, *outlen = len + 28).  open reverses it; returns -1 when
 * the tag or the associated data does not match.  The plaintext from
 * open is NUL-terminated (not counted in *outlen); wipe it after use.
 */
int	crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad,
	    size_t adlen, const void *in, size_t len, uint8_t **out,
	    size_t *outlen);
int	crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad,
	    size_t adlen, const uint8_t *in, size_t len, char **out,
	    size_t *outlen);

/* Base64 (standard, padded) and base64url (no padding) encoders/decoder.
 * Return heap strings; decode returns -1 on bad input. */
char	*crypto_b64(const void *in, size_t len);
char	*crypto_b64url(const void *in, size_t len);
int	 crypto_b64_decode(const char *in, uint8_t **out, size_t *outlen);
char	*crypto_hex(const void *in, size_t len);

/* Wipe and free. */
void	 crypto_wipe_free(void *p, size_t len);

#endif
