/*
 * links: collect URLs from HTML anchors and plain text and rank them.
 * A confirmation link is recognised by what a person would read: the
 * anchor text first, then the words just before the link, then the URL
 * itself.  Footer links (unsubscribe, privacy, social, app badges) are
 * kept but sink to the bottom with a decoy rule name.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract.h"
#include "extract/html.h"
#include "extract/links.h"

#define LC_MAX		256	/* candidates looked at per message */
#define ANCHOR_MAX	256
#define CTX_MAX		200
#define SCAN_MAX	2000	/* anchors or text URLs looked at */

struct lcand {
	const char	*src;		/* raw URL bytes in the input */
	size_t		 len;
	int		 html;		/* from an href: decode references */
	double		 score;
	const char	*rule;
	uint64_t	 hash;
	unsigned	 order;
};

struct lstate {
	struct lcand	 c[LC_MAX];
	size_t		 n;
	char		 fromdom[EXTRACT_ORIGIN_MAX];	/* sender's domain */
};

/* What surrounds one link. */
struct lctx {
	const char	*a;		/* folded anchor text, NULL for text */
	size_t		 alen;
	const char	*c;		/* folded words before it */
	size_t		 clen;
	const char	*after;		/* folded words after it (text) */
	size_t		 afterlen;
	int		 button;	/* styled as a button */
};

struct term {
	const char	*s;
	const char	*rule;		/* decoy rule, NULL for positives */
};

/* Words on a button or link that asks the reader to confirm something.
 * Matched as substrings of the folded anchor text or context. */
static const char *const pos_words[] = {
	"verify", "verif", "confirm", "activat", "activate", "validate",
	"magic link", "reset", "new password", "set password",
	"change password", "change your password", "change my password",
	"create password", "choose a password", "complete registration",
	"complete your registration", "finish signing up", "finish setting up",
	"finish creating", "accept invitation", "accept invite",
	"accept the invitation", "approve", "yes, it",
	"it was me", "it's me", "it’s me", "this is me", "that was me",
	"complete sign", "complete your sign", "finish sign",
	"finish your sign", "claim your account", "set up your account",
	"accept", "unlock", "subscribe me", "yes, subscribe",
	/* de */ "bestätig", "verifizier", "aktivier",
	"zurücksetzen", "freischalten",
	/* es pt */ "confirma", "verifica", "activa", "ativa",
	"restablecer", "redefinir", "validar",
	/* fr */ "vérifi", "activer", "réinitialis",
	"valider",
	/* it */ "conferm", "attiva", "reimposta",
	/* nl */ "bevestig", "verifieer", "activeer", "herstel",
	/* ru uk */ "подтверд", "подтвержд", "активир",
	"сброс", "восстанов", "підтверд", "актив",
	/* pl */ "potwierd", "aktywuj", "zresetuj", "weryfik",
	/* tr */ "onayla", "doğrula", "etkinleştir", "sıfırla",
	/* ar he fa hi */ "تأكيد", "تفعيل", "تحقق",
	"אישור", "אמת", "אשר", "تایید", "تأیید", "فعال",
	"पुष्टि", "सत्यापित", "सक्रिय",
	/* zh ja ko */ "确认", "確認", "验证", "驗證", "激活",
	"重置", "認証", "有効化", "再設定", "확인", "인증",
	"활성화", "재설정",
	/* vi id */ "xác nhận", "xác minh", "kích hoạt",
	"đặt lại", "konfirmasi", "verifikasi", "aktifkan",
	"atur ulang",
};

/* Sign-in words: a magic link says them, but so does every "Log in"
 * button in a page header.  They count fully only when the URL carries
 * a token. */
static const char *const weak_words[] = {
	"sign in", "sign-in", "signin", "log in", "log-in", "login",
	"continue", "enable", "join ", "open ", "anmelden",
	"iniciar sesi", "entrar", "acceder", "se connecter", "connexion",
	"accedi", "inloggen", "войти", "вход", "увійти", "zaloguj",
	"giriş", "تسجيل الدخول", "התחבר", "ورود", "登录", "登入",
	"ログイン", "로그인", "đăng nhập", "masuk",
};

/* URL pieces that name a confirmation endpoint. */
static const char *const url_words[] = {
	"verif", "confirm", "activat", "validat", "magic", "token=", "reset",
	"password", "passwd", "invite", "invitation", "otp", "ticket=",
	"/approve", "bestaetig", "confirmar", "verificar", "email_token",
	"emailtoken",
};

/* URL pieces of any sign-in or sign-up page; weak like weak_words. */
static const char *const weak_url_words[] = {
	"login", "signin", "sign-in", "sign_in", "log-in", "/auth", "auth/",
	"onboard", "register", "registration", "signup", "sign-up",
	"callback",
};

/* Anchor texts too vague to judge by: the surrounding words decide. */
static const char *const generic_words[] = {
	"click here", "here", "this link", "link", "button", "hier",
	"aquí", "aqui", "ici", "qui", "здесь", "тут", "tutaj", "buraya",
	"此处", "这里", "こちら", "여기", "tại đây", "di sini", "disini",
	"open", "click",
};

static const struct term neg_terms[] = {
	{ "unsubscribe", "decoy_unsubscribe" },
	{ "opt-out", "decoy_unsubscribe" }, { "opt out", "decoy_unsubscribe" },
	{ "optout", "decoy_unsubscribe" }, { "abmelden", "decoy_unsubscribe" },
	{ "abbestellen", "decoy_unsubscribe" },
	{ "darse de baja", "decoy_unsubscribe" },
	{ "cancelar suscrip", "decoy_unsubscribe" },
	{ "descadastr", "decoy_unsubscribe" },
	{ "désabonner", "decoy_unsubscribe" },
	{ "désinscri", "decoy_unsubscribe" },
	{ "disiscriv", "decoy_unsubscribe" }, { "afmelden", "decoy_unsubscribe" },
	{ "отписат", "decoy_unsubscribe" }, { "відписат", "decoy_unsubscribe" },
	{ "wypisz", "decoy_unsubscribe" }, { "abonelik", "decoy_unsubscribe" },
	{ "退订", "decoy_unsubscribe" }, { "取消订阅", "decoy_unsubscribe" },
	{ "配信停止", "decoy_unsubscribe" }, { "수신거부", "decoy_unsubscribe" },
	{ "hủy đăng ký", "decoy_unsubscribe" },
	{ "berhenti berlangganan", "decoy_unsubscribe" },
	{ "preferences", "decoy_preferences" },
	{ "email settings", "decoy_preferences" },
	{ "notification settings", "decoy_preferences" },
	{ "manage", "decoy_preferences" }, { "einstellungen", "decoy_preferences" },
	{ "privacy", "decoy_legal" }, { "terms", "decoy_legal" },
	{ "legal", "decoy_legal" }, { "policy", "decoy_legal" },
	{ "datenschutz", "decoy_legal" }, { "impressum", "decoy_legal" },
	{ "privacidad", "decoy_legal" }, { "privacidade", "decoy_legal" },
	{ "confidentialité", "decoy_legal" }, { "конфиденциальн", "decoy_legal" },
	{ "cookie", "decoy_legal" },
	{ "help", "decoy_help" }, { "support", "decoy_help" },
	{ "faq", "decoy_help" }, { "contact", "decoy_help" },
	{ "feedback", "decoy_help" }, { "ayuda", "decoy_help" },
	{ "hilfe", "decoy_help" }, { "aide", "decoy_help" },
	{ "помощь", "decoy_help" }, { "learn more", "decoy_help" },
	{ "view in browser", "decoy_view_online" },
	{ "view online", "decoy_view_online" },
	{ "web version", "decoy_view_online" },
	{ "view this email", "decoy_view_online" },
	{ "view it in", "decoy_view_online" },
	{ "wasn't me", "decoy_not_me" }, { "was not me", "decoy_not_me" },
	{ "wasn’t me", "decoy_not_me" }, { "not you", "decoy_not_me" },
	{ "didn't request", "decoy_not_me" }, { "didn’t request", "decoy_not_me" },
	{ "did not request", "decoy_not_me" },
	{ "didn't make", "decoy_not_me" }, { "didn’t make", "decoy_not_me" },
	{ "did not make", "decoy_not_me" }, { "wasn't you", "decoy_not_me" },
	{ "wasn’t you", "decoy_not_me" }, { "not recognize", "decoy_not_me" },
	{ "don't recognize", "decoy_not_me" },
	{ "did not attempt", "decoy_not_me" }, { "didn't attempt", "decoy_not_me" },
	{ "didn’t attempt", "decoy_not_me" }, { "compromised", "decoy_not_me" },
	{ "not attempting", "decoy_not_me" }, { "this was not you", "decoy_not_me" },
	{ "didn't try", "decoy_not_me" }, { "didn’t try", "decoy_not_me" },
	{ "did not try", "decoy_not_me" }, { "suspicious", "decoy_not_me" },
	{ "n't you", "decoy_not_me" }, { "n’t you", "decoy_not_me" },
	{ "is not you", "decoy_not_me" }, { "was not you", "decoy_not_me" },
	{ "weren't you", "decoy_not_me" },
	{ "didn't sign up", "decoy_not_me" }, { "didn’t sign up", "decoy_not_me" },
	{ "secure your account", "decoy_not_me" },
	{ "report", "decoy_help" }, { "block", "decoy_not_me" },
	{ "app store", "decoy_app_store" }, { "google play", "decoy_app_store" },
	{ "get it on", "decoy_app_store" }, { "download", "decoy_app_store" },
	{ "facebook", "decoy_social" }, { "twitter", "decoy_social" },
	{ "instagram", "decoy_social" }, { "linkedin", "decoy_social" },
	{ "youtube", "decoy_social" }, { "tiktok", "decoy_social" },
	{ "pinterest", "decoy_social" }, { "follow us", "decoy_social" },
	{ "logo", "decoy_logo" }, { "blog", "decoy_help" },
	{ "careers", "decoy_help" }, { "forward", "decoy_help" },
};

static const struct term bad_hosts[] = {
	{ "facebook.com", "decoy_social" }, { "twitter.com", "decoy_social" },
	{ "x.com", "decoy_social" }, { "instagram.com", "decoy_social" },
	{ "linkedin.com", "decoy_social" }, { "youtube.com", "decoy_social" },
	{ "tiktok.com", "decoy_social" }, { "pinterest.com", "decoy_social" },
	{ "t.me", "decoy_social" }, { "wa.me", "decoy_social" },
	{ "apps.apple.com", "decoy_app_store" },
	{ "itunes.apple.com", "decoy_app_store" },
	{ "play.google.com", "decoy_app_store" },
	{ "appgallery.huawei.com", "decoy_app_store" },
};

static int
has_word(const char *hay, size_t n, const char *w)
{
	size_t l = strlen(w);

	return l <= n && memmem(hay, n, w, l) != NULL;
}

/* The generic test is whole-text: "here" alone, not "here" inside. */
static int
is_generic(const char *a, size_t n)
{
	size_t j;

	while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '.' ||
	    a[n - 1] == '!' || a[n - 1] == '>'))
		n--;
	while (n > 0 && (*a == ' ' || *a == '>')) {
		a++;
		n--;
	}
	if (n == 0)
		return 1;
	for (j = 0; j < sizeof(generic_words) / sizeof(generic_words[0]); j++)
		if (strlen(generic_words[j]) == n &&
		    memcmp(a, generic_words[j], n) == 0)
			return 1;
	return n <= 14 && (has_word(a, n, "click") || has_word(a, n, "here"));
}

/*
 * One pass over folded text finds every positive and decoy phrase (and,
 * for URLs, every URL word), using a first-byte index built once, so a
 * link costs one scan rather than a search per phrase.
 */
enum { M_POS = 1, M_NEG = 2, M_URL = 4, M_WEAK = 8, M_WURL = 16 };

struct mword {
	const char	*s;
	size_t		 len;
	uint8_t		 kind;
	const char	*rule;
};

#define MW_MAX	512
static struct mword	 mw[MW_MAX];
static size_t		 nmw;
static uint16_t		 mw_first[257];
static pthread_once_t	 mw_once = PTHREAD_ONCE_INIT;

static void
mw_add(const char *w, uint8_t kind, const char *rule)
{
	size_t j;

	for (j = 0; j < nmw; j++)
		if (strcmp(mw[j].s, w) == 0) {
			mw[j].kind |= kind;
			if (rule != NULL && mw[j].rule == NULL)
				mw[j].rule = rule;
			return;
		}
	if (nmw >= MW_MAX)
		return;
	mw[nmw].s = w;
	mw[nmw].len = strlen(w);
	mw[nmw].kind = kind;
	mw[nmw].rule = rule;
	nmw++;
}

static int
mw_cmp(const void *x, const void *y)
{
	const struct mword *a = x, *b = y;

	if ((unsigned char)a->s[0] != (unsigned char)b->s[0])
		return (unsigned char)a->s[0] < (unsigned char)b->s[0] ? -1 : 1;
	return strcmp(a->s, b->s);
}

static void
mw_init(void)
{
	size_t j, b, k = 0;

	for (j = 0; j < sizeof(pos_words) / sizeof(pos_words[0]); j++)
		mw_add(pos_words[j], M_POS, NULL);
	for (j = 0; j < sizeof(neg_terms) / sizeof(neg_terms[0]); j++)
		mw_add(neg_terms[j].s, M_NEG, neg_terms[j].rule);
	for (j = 0; j < sizeof(url_words) / sizeof(url_words[0]); j++)
		mw_add(url_words[j], M_URL, NULL);
	for (j = 0; j < sizeof(weak_words) / sizeof(weak_words[0]); j++)
		mw_add(weak_words[j], M_WEAK, NULL);
	for (j = 0; j < sizeof(weak_url_words) / sizeof(weak_url_words[0]);
	    j++)
		mw_add(weak_url_words[j], M_WURL, NULL);
	qsort(mw, nmw, sizeof(mw[0]), mw_cmp);
	for (b = 0; b < 256; b++) {
		mw_first[b] = (uint16_t)k;
		while (k < nmw && (unsigned char)mw[k].s[0] == b)
			k++;
	}
	mw_first[256] = (uint16_t)k;
}

struct mres {
	int		 kinds;		/* M_* seen */
	long		 pos_end;	/* end of the last positive, or -1 */
	long		 neg_end;	/* end of the last decoy, or -1 */
	const char	*neg_rule;	/* rule of the last decoy */
	const char	*first_neg;	/* rule of the first decoy */
};

static void
mscan(const char *s, size_t n, int want, struct mres *m)
{
	size_t i, k;

	pthread_once(&mw_once, mw_init);
	m->kinds = 0;
	m->pos_end = m->neg_end = -1;
	m->neg_rule = m->first_neg = NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		for (k = mw_first[c]; k < mw_first[c + 1]; k++) {
			const struct mword *w = &mw[k];
			int kind = w->kind & want;

			if (kind == 0 || w->len > n - i ||
			    (w->len > 1 && s[i + 1] != w->s[1]) ||
			    memcmp(s + i, w->s, w->len) != 0)
				continue;
			m->kinds |= kind;
			if (kind & (M_POS | M_WEAK))
				m->pos_end = (long)(i + w->len);
			if (kind & M_NEG) {
				if ((long)(i + w->len) > m->neg_end) {
					m->neg_end = (long)(i + w->len);
					m->neg_rule = w->rule;
				}
				if (m->first_neg == NULL)
					m->first_neg = w->rule;
			}
		}
	}
}

/* Host part of a folded URL: after "://" up to / ? # or ':'. */
static void
url_host(const char *u, size_t n, size_t *hs, size_t *he)
{
	const char *p = memmem(u, n, "://", 3);
	size_t s = p ? (size_t)(p - u) + 3 : 0, e, at;

	for (e = s; e < n && u[e] != '/' && u[e] != '?' && u[e] != '#'; e++)
		;
	/* userinfo@host */
	for (at = e; at > s; at--)
		if (u[at - 1] == '@') {
			s = at;
			break;
		}
	for (at = s; at < e; at++)
		if (u[at] == ':') {
			e = at;
			break;
		}
	*hs = s;
	*he = e;
}

static int
host_is(const char *h, size_t n, const char *dom)
{
	size_t l = strlen(dom);

	if (n == l)
		return memcmp(h, dom, l) == 0;
	return n > l && h[n - l - 1] == '.' && memcmp(h + n - l, dom, l) == 0;
}

/* Is the sender the owner of this social or store host?  Facebook
 * mails from facebookmail.com, Instagram from mail.instagram.com. */
static int
same_brand(const char *host, const char *fromdom)
{
	const char *dot = strchr(host, '.');
	size_t bl = dot ? (size_t)(dot - host) : strlen(host);
	char brand[64];

	if (fromdom[0] == '\0' || bl == 0 || bl >= sizeof(brand))
		return 0;
	if (host_is(fromdom, strlen(fromdom), host) ||
	    host_is(host, strlen(host), fromdom))
		return 1;
	memcpy(brand, host, bl);
	brand[bl] = '\0';
	return bl >= 4 && strstr(fromdom, brand) != NULL;
}

/* A long run of token characters: verification links carry one. */
static int
has_token(const char *u, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '_' || c == '-') {
			if (++run >= 20)
				return 1;
		} else
			run = 0;
	}
	return 0;
}

static int
is_image(const char *u, size_t n)
{
	static const char *const ext[] = {
		".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico",
	};
	size_t j, e = n;

	for (j = 0; j < n; j++)
		if (u[j] == '?' || u[j] == '#') {
			e = j;
			break;
		}
	for (j = 0; j < sizeof(ext) / sizeof(ext[0]); j++) {
		size_t l = strlen(ext[j]);

		if (e >= l && memcmp(u + e - l, ext[j], l) == 0)
			return 1;
	}
	return 0;
}

/*
 * Score one link.  u is the decoded URL, a the folded anchor text (or
 * NULL for a bare URL), c the folded words just before it.  Positive
 * evidence from the anchor weighs most; decoy evidence anywhere sinks it.
 */
static double
link_score(const char *u, size_t ulen, const struct lctx *x,
    const char *fromdom, const char **rule)
{
	const char *a = x->a, *c = x->c;
	size_t alen = x->alen, clen = x->clen;
	char lu[EXTRACT_URL_MAX];
	size_t hs, he, j, path;
	double s = 0;
	const char *neg = NULL, *r;
	int generic, veto = 0, token;

	html_fold(u, ulen, lu);
	if (html_starts(lu, ulen, "mailto:")) {
		*rule = "decoy_mailto";
		return -8;
	}
	if (html_starts(lu, ulen, "tel:") || html_starts(lu, ulen, "sms:")) {
		*rule = "decoy_tel";
		return -8;
	}
	if (!html_starts(lu, ulen, "http://") &&
	    !html_starts(lu, ulen, "https://") &&
	    !html_starts(lu, ulen, "www.")) {
		*rule = "decoy_scheme";
		return -8;
	}
	url_host(lu, ulen, &hs, &he);
	/* A social network's own mail links to itself: only someone
	 * else's social or app-store link is a footer badge. */
	/* In plain text (an SMS) there are no footers: such a host only
	 * counts against the link a little. */
	for (j = 0; j < sizeof(bad_hosts) / sizeof(bad_hosts[0]); j++)
		if (host_is(lu + hs, he - hs, bad_hosts[j].s) &&
		    !same_brand(bad_hosts[j].s, fromdom)) {
			if (a == NULL) {
				s -= 1.5;
				break;
			}
			*rule = bad_hosts[j].rule;
			return -6;
		}
	if (is_image(lu, ulen)) {
		*rule = "decoy_image";
		return -6;
	}
	path = he;
	*rule = "plain";
	if (html_starts(lu, ulen, "https://"))
		s += 0.3;
	generic = a == NULL || is_generic(a, alen);
	token = ulen > he && has_token(u + he, ulen - he);
	if (a != NULL && alen > 0 && !generic) {
		struct mres m;

		mscan(a, alen, M_POS | M_WEAK | M_NEG, &m);
		if (m.first_neg != NULL) {
			s -= 7;
			neg = m.first_neg;
		} else if ((m.kinds & M_POS) || ((m.kinds & M_WEAK) && token)) {
			s += 5;
			*rule = "anchor_keyword";
		} else if (m.kinds & M_WEAK) {
			s += 1.5;
			*rule = "anchor_keyword";
		}
	}
	if (c != NULL && clen > 0 && neg == NULL) {
		/* The nearer of a positive and a negative phrase decides,
		 * so "Not you? ... " just before a link outweighs a
		 * "verify" further up. */
		struct mres m;
		long pe, ne;

		mscan(c, clen, M_POS | M_WEAK | M_NEG, &m);
		pe = m.pos_end;
		ne = m.neg_end;
		r = m.neg_rule;
		/* "If you didn't try to sign in, change your password":
		 * a not-me clause just before rules even over positive
		 * words after it. */
		if (r != NULL && (size_t)ne + 90 >= clen && (ne >= pe ||
		    strcmp(r, "decoy_not_me") == 0)) {
			/* "If this wasn't you, reset your password": the
			 * words before a link can make it a decoy whatever
			 * it says itself; "Questions? Contact us" only
			 * weighs a little. */
			if (strcmp(r, "decoy_not_me") == 0 ||
			    strcmp(r, "decoy_unsubscribe") == 0 ||
			    strcmp(r, "decoy_preferences") == 0)
				veto = 1;
			s -= generic ? 4 : 2;
			neg = r;
		} else if (pe >= 0) {
			double v = generic ? 4.5 : 2;

			if (!(m.kinds & M_POS) && !token)
				v = generic ? 1.5 : 1;
			s += v;
			if (s < 5)
				*rule = "context_keyword";
		}
	}
	if (ulen > path) {
		const char *p = lu + path;
		size_t pn = ulen - path;
		struct mres m;
		int hit;

		mscan(p, pn, M_URL | M_WURL | M_NEG, &m);
		hit = (m.kinds & M_URL) != 0 || ((m.kinds & M_WURL) && token);
		/* Host names like verify.example.com count too. */
		if (!hit && (has_word(lu + hs, he - hs, "verif") ||
		    has_word(lu + hs, he - hs, "confirm")))
			hit = 1;
		if (hit || (m.kinds & M_WURL) || has_word(lu + hs, he - hs,
		    "login")) {
			s += hit ? 3 : 0.5;
			if (strcmp(*rule, "plain") == 0)
				*rule = "url_keyword";
		}
		if ((r = m.first_neg) != NULL && neg == NULL &&
		    strcmp(r, "decoy_logo") != 0) {
			s -= 4;
			neg = r;
		}
		if (token)
			s += 1;
	}
	/* "Click https://... to activate your account": in a text the
	 * words after a link can say what it is for. */
	if (a == NULL && neg == NULL && x->after != NULL && x->afterlen > 0 &&
	    strcmp(*rule, "plain") == 0) {
		struct mres m;

		mscan(x->after, x->afterlen, M_POS | M_NEG, &m);
		if ((m.kinds & M_POS) && m.first_neg == NULL) {
			s += 3.5;
			*rule = "context_keyword";
		}
	}
	if (x->button)
		s += 0.7;
	if (veto && s > 1.5)
		s = 1.5;
	/* Past this, more evidence says nothing new: among clear
	 * confirmation links the first in the message (the button) wins
	 * over its "or copy this link" twin. */
	if (s > 8)
		s = 8;
	if (neg != NULL && s < 3)
		*rule = neg;
	return s;
}

static double
to_conf(double s)
{
	double c = 1.0 / (1.0 + exp(-(s - 3.0) / 1.2));

	return floor(c * 1000 + 0.5) / 1000;
}

static uint64_t
fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Decode (HTML) or copy (text) a URL, dropping blanks that mail
 * clients insert when they wrap long hrefs.  Returns the length, or 0
 * when it does not fit. */
static size_t
url_copy(const char *src, size_t n, int html, char *dst, size_t cap)
{
	char tmp[EXTRACT_URL_MAX];
	size_t i, o = 0, l;

	if (n >= cap || n >= sizeof(tmp) * 4)
		return 0;
	if (html)
		l = html_decode(src, n, tmp, sizeof(tmp));
	else {
		if (n >= sizeof(tmp))
			return 0;
		memcpy(tmp, src, n);
		l = n;
	}
	for (i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)tmp[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (o + 1 >= cap)
			return 0;
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return o;
}

static void
add(struct lstate *st, const char *src, size_t n, int html,
    const struct lctx *x)
{
	char u[EXTRACT_URL_MAX];
	size_t ul, j;
	double s;
	const char *rule;
	uint64_t h;

	ul = url_copy(src, n, html, u, sizeof(u));
	if (ul == 0 || (ul == 1 && u[0] == '#'))
		return;
	if (u[0] == '#' || html_starts(u, ul, "javascript:"))
		return;
	s = link_score(u, ul, x, st->fromdom, &rule);
	h = fnv(u, ul);
	for (j = 0; j < st->n; j++)
		if (st->c[j].hash == h) {
			if (s > st->c[j].score) {
				st->c[j].score = s;
				st->c[j].rule = rule;
			}
			return;
		}
	if (st->n >= LC_MAX)
		return;
	st->c[st->n].src = src;
	st->c[st->n].len = n;
	st->c[st->n].html = html;
	st->c[st->n].score = s;
	st->c[st->n].rule = rule;
	st->c[st->n].hash = h;
	st->c[st->n].order = (unsigned)st->n;
	st->n++;
}

/* Value of attribute name in the tag t[0..n) (after "<a"), or NULL. */
static const char *
attr(const char *t, size_t n, const char *name, size_t *len)
{
	size_t i = 0, l = strlen(name);

	while (i < n) {
		size_t s;
		char q;

		while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' ||
		    t[i] == '\n' || t[i] == '/'))
			i++;
		s = i;
		while (i < n && t[i] != '=' && t[i] != ' ' && t[i] != '>' &&
		    t[i] != '\t' && t[i] != '\n' && t[i] != '\r')
			i++;
		if (i >= n || t[i] == '>')
			return NULL;
		if (t[i] != '=') {
			i++;
			continue;
		}
		{
			int match = i - s == l && html_starts(t + s, l, name);

			i++;
			while (i < n && (t[i] == ' ' || t[i] == '\n'))
				i++;
			if (i < n && (t[i] == '"' || t[i] == '\'')) {
				q = t[i++];
				s = i;
				while (i < n && t[i] != q)
					i++;
			} else {
				s = i;
				while (i < n && t[i] != ' ' && t[i] != '>' &&
				    t[i] != '\t' && t[i] != '\n')
					i++;
			}
			if (match) {
				*len = i - s;
				return t + s;
			}
			if (i < n)
				i++;
		}
	}
	return NULL;
}

/* Folded text of the markup in [s, s+n), tags dropped, into dst. */
static size_t
fold_text(const char *s, size_t n, char *dst, size_t cap)
{
	size_t l = html_to_text(s, n, dst, cap);

	html_fold(dst, l, dst);
	return l;
}

static void
from_html(struct lstate *st, const char *h, size_t n)
{
	size_t i = 0, prev_end = 0, seen = 0;

	while (i + 2 < n && seen < SCAN_MAX) {
		const char *p = memchr(h + i, '<', n - i);
		size_t a, te, hl, close, al, cl, ws, imgn;
		const char *href, *img;
		char anchor[ANCHOR_MAX], ctxb[CTX_MAX * 4], *ctx;
		int button;

		if (p == NULL)
			break;
		a = (size_t)(p - h);
		if (a + 2 >= n || (h[a + 1] | 0x20) != 'a' ||
		    !(h[a + 2] == ' ' || h[a + 2] == '\n' || h[a + 2] == '\t' ||
		    h[a + 2] == '\r')) {
			i = a + 1;
			continue;
		}
		for (te = a + 2; te < n && h[te] != '>'; te++)
			if (h[te] == '"' || h[te] == '\'') {
				const char *q = memchr(h + te + 1, h[te],
				    n - te - 1);
				if (q == NULL)
					break;
				te = (size_t)(q - h);
			}
		if (te >= n)
			break;
		href = attr(h + a + 2, te - a - 1, "href", &hl);
		/* Anchor text runs to </a> (or the next <a, for broken
		 * markup). */
		for (close = te + 1; close + 1 < n; close++)
			if (h[close] == '<' && (h[close + 1] == '/' ||
			    (h[close + 1] | 0x20) == 'a') &&
			    (html_starts(h + close, n - close, "</a") ||
			    (html_starts(h + close, n - close, "<a") &&
			    close + 2 < n && h[close + 2] == ' ')))
				break;
		if (close + 1 >= n)
			close = n;
		i = close;
		if (href == NULL)
			continue;
		seen++;
		al = fold_text(h + te + 1, close - te - 1, anchor,
		    sizeof(anchor));
		/* An image link speaks through its alt text. */
		img = memmem(h + te + 1, close - te - 1, "<img", 4);
		if (img != NULL && al < sizeof(anchor) - 2) {
			const char *alt;
			size_t altn, k;

			imgn = close - (size_t)(img - h);
			alt = attr(img + 4, imgn - 4, "alt", &altn);
			if (alt != NULL && altn > 0) {
				anchor[al++] = ' ';
				k = fold_text(alt, altn, anchor + al,
				    sizeof(anchor) - al);
				al += k;
			} else if (al == 0) {
				memcpy(anchor, "image", 5);
				al = 5;
			}
		}
		{
			const char *t;
			size_t tl;

			if ((t = attr(h + a + 2, te - a - 1, "title", &tl)) !=
			    NULL && tl > 0 && al + 2 < sizeof(anchor)) {
				anchor[al++] = ' ';
				al += fold_text(t, tl, anchor + al,
				    sizeof(anchor) - al);
			}
		}
		ws = a > prev_end + 600 ? a - 600 : prev_end;
		cl = fold_text(h + ws, a - ws, ctxb, sizeof(ctxb));
		ctx = ctxb;
		if (cl > CTX_MAX) {
			ctx = ctxb + cl - CTX_MAX;
			cl = CTX_MAX;
		}
		button = memmem(h + a, te - a, "button", 6) != NULL ||
		    memmem(h + a, te - a, "btn", 3) != NULL ||
		    memmem(h + a, te - a, "background", 10) != NULL;
		{
			struct lctx x = { anchor, al, ctx, cl, NULL, 0, button };

			add(st, href, hl, 1, &x);
		}
		prev_end = close;
	}
}

static int
url_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"' &&
	    c != '`' && c != '\'' && c != '{' && c != '}' && c != '|' &&
	    c != '\\' && c != '^';
}

static void
from_text(struct lstate *st, const char *t, size_t n)
{
	size_t i = 0, prev_end = 0, seen = 0;

	while (i + 4 < n && seen < SCAN_MAX) {
		size_t s = i, e, cs, lines, cl, an;
		char ctx[CTX_MAX * 2], aft[100];
		int open = 0;

		if (!(html_starts(t + i, n - i, "http://") ||
		    html_starts(t + i, n - i, "https://") ||
		    (html_starts(t + i, n - i, "www.") && (i == 0 ||
		    !url_char((unsigned char)t[i - 1]))))) {
			i++;
			continue;
		}
		for (e = s; e < n && url_char((unsigned char)t[e]); e++)
			if (t[e] == '(')
				open++;
		/* Trailing punctuation belongs to the sentence. */
		while (e > s && (t[e - 1] == '.' || t[e - 1] == ',' ||
		    t[e - 1] == ';' || t[e - 1] == ':' || t[e - 1] == '!' ||
		    t[e - 1] == '?' || t[e - 1] == ']' || t[e - 1] == '*' ||
		    (t[e - 1] == ')' && open == 0)))
			e--;
		if (e - s < 11) {
			i = e > i ? e : i + 1;
			continue;
		}
		/* Context: this line and the one before, not crossing the
		 * previous URL. */
		cs = s;
		lines = 0;
		while (cs > prev_end && s - cs < CTX_MAX) {
			if (t[cs - 1] == '\n') {
				/* skip blank lines between */
				size_t k = cs - 1;

				while (k > prev_end && (t[k - 1] == '\n' ||
				    t[k - 1] == '\r' || t[k - 1] == ' '))
					k--;
				if (++lines >= 2)
					break;
				cs = k;
				continue;
			}
			cs--;
		}
		cl = s - cs;
		if (cl > sizeof(ctx))
			cl = sizeof(ctx);
		html_fold(t + s - cl, cl, ctx);
		/* ...and the rest of its sentence. */
		for (an = 0; e + an < n && an < sizeof(aft) && t[e + an] !=
		    '\n' && !(an > 0 && t[e + an - 1] == '.' &&
		    t[e + an] == ' '); an++)
			;
		html_fold(t + e, an, aft);
		{
			struct lctx x = { NULL, 0, ctx, cl, aft, an, 0 };

			add(st, t + s, e - s, 0, &x);
		}
		seen++;
		prev_end = e;
		i = e;
	}
}

static int
lcand_cmp(const void *x, const void *y)
{
	const struct lcand *a = x, *b = y;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

size_t
links_run(const struct extract_input *in, struct extract_result *res)
{
	struct lstate *st;
	size_t j, k = 0;

	res->nlinks = 0;
	st = malloc(sizeof(*st));
	if (st == NULL)
		return 0;
	st->n = 0;
	st->fromdom[0] = '\0';
	if (in->from != NULL && in->fromlen > 0 && in->fromlen < 512) {
		char f[512];
		const char *at;

		memcpy(f, in->from, in->fromlen);
		f[in->fromlen] = '\0';
		at = strrchr(f, '@');
		if (at == NULL || extract_domain(at + 1, st->fromdom,
		    sizeof(st->fromdom)) != 0)
			st->fromdom[0] = '\0';
	}
	if (in->html != NULL && in->htmllen > 0)
		from_html(st, in->html, in->htmllen > EXTRACT_INPUT_MAX ?
		    EXTRACT_INPUT_MAX : in->htmllen);
	if (in->text != NULL && in->textlen > 0)
		from_text(st, in->text, in->textlen > EXTRACT_INPUT_MAX ?
		    EXTRACT_INPUT_MAX : in->textlen);
	qsort(st->c, st->n, sizeof(st->c[0]), lcand_cmp);
	for (j = 0; j < st->n && k < EXTRACT_MAX_LINKS; j++) {
		struct extract_link *l = &res->links[k];

		if (url_copy(st->c[j].src, st->c[j].len, st->c[j].html,
		    l->url, sizeof(l->url)) == 0)
			continue;
		if (extract_domain(l->url, l->domain, sizeof(l->domain)) != 0)
			l->domain[0] = '\0';
		l->confidence = to_conf(st->c[j].score);
		l->rule = st->c[j].rule;
		k++;
	}
	res->nlinks = k;
	free(st);
	return k;
}
