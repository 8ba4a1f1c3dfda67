/*
 * Thin wrappers over GnuTLS: randomness, hashes, HMAC, AES-256-GCM and
 * the encodings the daemon needs.  GnuTLS is already in the process
 * (libetpan, libcurl-gnutls), so there is no second crypto library.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"

void
crypto_random(void *buf, size_t n)
{
	if (gnutls_rnd(GNUTLS_RND_KEY, buf, n) != 0)
		fatalx("gnutls_rnd failed");
}

void
crypto_sha256(const void *in, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, in, len, out) != 0)
		fatalx("gnutls_hash_fast failed");
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *in,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, in, len,
	    out) != 0)
		fatalx("gnutls_hmac_fast failed");
}

void
crypto_hmac_sha1(const void *key, size_t keylen, const void *in,
    size_t len, uint8_t out[CRYPTO_SHA1_LEN])
{
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA1, key, keylen, in, len, out) != 0)
		fatalx("gnutls_hmac_fast failed");
}

int
crypto_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const void *in, size_t len, uint8_t **out, size_t *outlen)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_datum_t k = { (unsigned char *)key, CRYPTO_KEY_LEN };
	uint8_t *o;
	size_t clen = len + CRYPTO_TAG_LEN;
	int rc = -1;

	o = xmalloc(CRYPTO_NONCE_LEN + clen);
	crypto_random(o, CRYPTO_NONCE_LEN);
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0)
		goto done;
	if (gnutls_aead_cipher_encrypt(h, o, CRYPTO_NONCE_LEN, ad, adlen,
	    CRYPTO_TAG_LEN, in, len, o + CRYPTO_NONCE_LEN, &clen) != 0)
		goto done;
	*out = o;
	*outlen = CRYPTO_NONCE_LEN + clen;
	o = NULL;
	rc = 0;
done:
	if (h)
		gnutls_aead_cipher_deinit(h);
	free(o);
	return rc;
}

int
crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const uint8_t *in, size_t len, char **out, size_t *outlen)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_datum_t k = { (unsigned char *)key, CRYPTO_KEY_LEN };
	char *p = NULL;
	size_t plen;
	int rc = -1;

	if (len < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
		return -1;
	plen = len - CRYPTO_NONCE_LEN;	/* room gnutls checks for */
	p = xmalloc(plen + 1);
	if (gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k) != 0)
		goto done;
	if (gnutls_aead_cipher_decrypt(h, in, CRYPTO_NONCE_LEN, ad, adlen,
	    CRYPTO_TAG_LEN, in + CRYPTO_NONCE_LEN, len - CRYPTO_NONCE_LEN,
	    p, &plen) != 0)
		goto done;
	p[plen] = '\0';
	*out = p;
	*outlen = plen;
	p = NULL;
	rc = 0;
done:
	if (h)
		gnutls_aead_cipher_deinit(h);
	if (p)
		crypto_wipe_free(p, len - CRYPTO_NONCE_LEN + 1);
	return rc;
}

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *
b64_encode(const uint8_t *in, size_t len, const char *alpha, int pad)
{
	char *o = xmalloc((len + 2) / 3 * 4 + 1), *p = o;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*p++ = alpha[in[i] >> 2];
		*p++ = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*p++ = alpha[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*p++ = alpha[in[i + 2] & 63];
	}
	if (i < len) {
		*p++ = alpha[in[i] >> 2];
		if (i + 1 < len) {
			*p++ = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*p++ = alpha[(in[i + 1] & 15) << 2];
		} else
			*p++ = alpha[(in[i] & 3) << 4];
		if (pad)
			while ((p - o) % 4)
				*p++ = '=';
	}
	*p = '\0';
	return o;
}

char *
crypto_b64(const void *in, size_t len)
{
	return b64_encode(in, len, b64std, 1);
}

char *
crypto_b64url(const void *in, size_t len)
{
	return b64_encode(in, len, b64url, 0);
}

int
crypto_b64_decode(const char *in, uint8_t **out, size_t *outlen)
{
	size_t len = strlen(in), n = 0, i;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *o;

	o = xmalloc(len / 4 * 3 + 3);
	for (i = 0; i < len; i++) {
		const char *p;
		char c = in[i];

		if (c == '=')
			break;
		if ((p = strchr(b64std, c)) == NULL || c == '\0') {
			free(o);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)(p - b64std);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	for (; i < len; i++)
		if (in[i] != '=') {
			free(o);
			return -1;
		}
	*out = o;
	*outlen = n;
	return 0;
}

char *
crypto_hex(const void *in, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	const uint8_t *p = in;
	char *o = xmalloc(len * 2 + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		o[2 * i] = hx[p[i] >> 4];
		o[2 * i + 1] = hx[p[i] & 15];
	}
	o[2 * len] = '\0';
	return o;
}

void
crypto_wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}
