/*
 * crypto: known-answer vectors and round trips.
 */
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/xmalloc.h"
#include "t.h"

struct hvec {
	const char	*key, *msg, *want;
};

int
main(void)
{
	/* RFC 4231 test case 2 and FIPS 180-2 "abc". */
	static const struct hvec hmac256[] = {
		{ "Jefe", "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "key", "The quick brown fox jumps over the lazy dog",
		  "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8" },
	};
	/* RFC 2202 test case 2 for HMAC-SHA1. */
	static const struct hvec hmac1[] = {
		{ "Jefe", "what do ya want for nothing?",
		  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
	};
	static const struct { const char *in, *b64, *b64url; } enc[] = {
		{ "", "", "" },
		{ "f", "Zg==", "Zg" },
		{ "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" },
		{ "foob", "Zm9vYg==", "Zm9vYg" },
		{ "\xfb\xff", "+/8=", "-_8" },
	};
	uint8_t out[32], key[CRYPTO_KEY_LEN], *ct, *dec;
	size_t i, ctlen, declen;
	char *hex, *pt;

	for (i = 0; i < sizeof(hmac256) / sizeof(*hmac256); i++) {
		crypto_hmac_sha256(hmac256[i].key, strlen(hmac256[i].key),
		    hmac256[i].msg, strlen(hmac256[i].msg), out);
		hex = crypto_hex(out, 32);
		T_STREQ(hex, hmac256[i].want, "hmac-sha256 vector %zu", i);
		free(hex);
	}
	crypto_hmac_sha1(hmac1[0].key, 4, hmac1[0].msg,
	    strlen(hmac1[0].msg), out);
	hex = crypto_hex(out, 20);
	T_STREQ(hex, hmac1[0].want, "hmac-sha1 RFC 2202 vector");
	free(hex);
	crypto_sha256("abc", 3, out);
	hex = crypto_hex(out, 32);
	T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256 abc");
	free(hex);

	for (i = 0; i < sizeof(enc) / sizeof(*enc); i++) {
		char *b = crypto_b64(enc[i].in, strlen(enc[i].in));
		char *u = crypto_b64url(enc[i].in, strlen(enc[i].in));

		T_STREQ(b, enc[i].b64, "base64 of vector %zu", i);
		T_STREQ(u, enc[i].b64url, "base64url of vector %zu", i);
		T_CHECK(crypto_b64_decode(b, &dec, &declen) == 0 &&
		    declen == strlen(enc[i].in) &&
		    memcmp(dec, enc[i].in, declen) == 0,
		    "base64 decode round trip %zu", i);
		free(dec);
		free(b);
		free(u);
	}
	T_CHECK(crypto_b64_decode("Zm9v!", &dec, &declen) == -1,
	    "base64 decode rejects bad characters");
	T_CHECK(crypto_b64_decode("Zg=a", &dec, &declen) == -1,
	    "base64 decode rejects data after padding");

	T_CHECK(crypto_equal("abcd", "abcd", 4), "constant-time equal");
	T_CHECK(!crypto_equal("abcd", "abce", 4), "constant-time unequal");

	/* AES-256-GCM: round trip; the tag, the data and the associated
	 * data are all bound. */
	crypto_random(key, sizeof(key));
	T_CHECK(crypto_seal(key, "secrets/7", 9, "482913", 6, &ct, &ctlen) == 0
	    && ctlen == 6 + CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN, "seal");
	T_CHECK(memmem(ct, ctlen, "482913", 6) == NULL,
	    "ciphertext does not hold the plaintext");
	T_CHECK(crypto_open(key, "secrets/7", 9, ct, ctlen, &pt, &declen) == 0
	    && declen == 6 && strcmp(pt, "482913") == 0, "open round trip");
	crypto_wipe_free(pt, declen);
	T_CHECK(crypto_open(key, "secrets/8", 9, ct, ctlen, &pt, &declen) ==
	    -1, "another row's associated data does not open it");
	ct[ctlen - 1] ^= 1;
	T_CHECK(crypto_open(key, "secrets/7", 9, ct, ctlen, &pt, &declen) ==
	    -1, "a flipped tag bit does not open");
	ct[ctlen - 1] ^= 1;
	ct[CRYPTO_NONCE_LEN] ^= 1;
	T_CHECK(crypto_open(key, "secrets/7", 9, ct, ctlen, &pt, &declen) ==
	    -1, "a flipped ciphertext bit does not open");
	T_CHECK(crypto_open(key, "secrets/7", 9, ct, 10, &pt, &declen) == -1,
	    "a short blob does not open");
	free(ct);
	{
		uint8_t *c2;
		size_t l1, l2;

		crypto_seal(key, "", 0, "x", 1, &ct, &l1);
		crypto_seal(key, "", 0, "x", 1, &c2, &l2);
		T_CHECK(l1 == l2 && memcmp(ct, c2, l1) != 0,
		    "fresh nonce per seal");
		free(ct);
		free(c2);
	}
	return t_done();
}
