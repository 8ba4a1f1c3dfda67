/*
 * kw: word lists for code extraction.  Every word is stored folded
 * (lower case).  An ASCII word must start at a word boundary and, unless
 * it ends in '*' (a stem such as "verif*"), end at one too; words in
 * other scripts match anywhere, which suits languages without spaces.
 */
#include <pthread.h>
#include <string.h>

#include "extract/kw.h"

/* A literal with its length, so matching never calls strlen(). */
struct lit {
	const char	*s;
	size_t		 len;
};

#define L(x)	{ x, sizeof(x) - 1 }

struct kw {
	const char	*s;
	uint8_t		 type;
};

#define C(x)	{ x, KW_CODE }
#define A(x)	{ x, KW_ACT }
#define D(x)	{ x, KW_DECOY }
#define S(x)	{ x, KW_SUPPRESS }
#define P(x)	{ x, KW_PROMO }

static const struct kw words[] = {
	/* English */
	C("code*"), C("otp"), C("passcode*"), C("pass code"), C("password"),
	C("pin"), C("one-time"), C("one time"), C("onetime"), C("2fa"),
	C("mfa"), C("token"), C("verification"), C("authentication"),
	C("auth"), C("tan"), C("mtan"), C("smstan"), C("pushtan"), C("mobiletan"),
	C("chiptan"), C("phototan"), C("apptan"),
	A("verify"), A("confirm"), A("log in"), A("login"), A("log-in"),
	A("sign in"), A("sign-in"), A("signin"), A("sign up"),
	A("authenticate"), A("authorize"), A("use"), A("enter"), A("type"),
	A("two-step"), A("2-step"), A("two-factor"), A("activate"),
	A("activation"), A("reset"), A("do not share"), A("don't share"),
	A("don’t share"), A("never share"), A("not share"), A("expire*"),
	A("valid for"),
	D("order*"), D("tracking"), D("track*"), D("shipment"), D("parcel"),
	D("package"), D("awb"), D("reference"), D("ref"), D("ref."),
	D("invoice"), D("receipt"), D("booking"), D("reservation"), D("pnr"),
	D("flight"), D("ticket"), D("case"), D("customer id"),
	D("customer number"), D("member*"), D("account*"), D("acct"),
	D("a/c"), D("card*"), D("ending"), D("ends in"), D("ends with"),
	D("last 4"), D("last four"), D("balance"), D("amount"), D("total"),
	D("paid"), D("payment"), D("transaction"), D("txn"), D("trx"),
	D("id"), D("serial"), D("model"), D("room"), D("gate"), D("seat"),
	D("unit"), D("apt"), D("suite"), D("floor"), D("box"), D("p.o."),
	D("zip"), D("postal"), D("postcode"), D("version"), D("build"),
	D("route"), D("bus"), D("platform"), D("extension"), D("ext"),
	D("call*"), D("phone"), D("tel"), D("mobile"), D("fax"),
	D("hotline"), D("contact"), D("stop"), D("reply"), D("help"),
	D("confirmation number"), D("confirmation #"), D("claim"),
	D("policy"), D("loan"), D("bill*"), D("due"), D("purchase"),
	D("spent"), D("debited"), D("credited"), D("withdraw*"),
	D("points"), D("street"), D("avenue"), D("no."),
	S("promo code"), S("promotional code"), S("discount code"),
	S("coupon*"), S("gift code"), S("voucher*"), S("referral code"),
	S("invite code"), S("postal code"), S("zip code"), S("area code"),
	S("qr code"), S("source code"), S("error code"), S("status code"),
	S("booking code"), S("reservation code"), S("tracking code"),
	S("tracking number"), S("order code"), S("product code"),
	S("item code"), S("offer code"), S("swift code"), S("sort code"),
	S("country code"), S("dress code"), S("bar code"), S("barcode"),
	S("ref code"), S("discount"), S("promo"), S("reference code"),
	S("ticket code"), S("gift card"), S("claim code"), S("redemption code"),
	S("redeem code"), S("access code for wi-fi"), S("wifi code"),
	P("% off"), P("off your"), P("sale"), P("shop now"), P("deal*"),
	P("save"), P("shop"), P("limited time"), P("black friday"),
	P("cyber monday"), P("% today"),
	P("offer*"), P("free shipping"), P("cashback"), P("rabatt"),
	P("descuento"), P("desconto"), P("remise"), P("sconto"),
	P("korting"), P("скидк"), P("zniżk"), P("indirim"), P("خصم"),
	P("הנחה"), P("تخفیف"), P("छूट"), P("优惠"), P("割引"), P("セール"),
	P("할인"), P("giảm giá"), P("diskon"), P("% de desconto"),
	P("% de descuento"), P("oferta"), P("angebot"),
	/* Spanish, Portuguese */
	C("código"), C("codigo"), C("clave"), C("contraseña"),
	C("verificación"), C("verificacion"), C("senha"), C("verificação"),
	C("verificacao"), C("confirmação"), C("confirmacao"),
	C("confirmación"),
	A("ingresa"), A("introduce"), A("usa el"), A("usa este"), A("utiliza"), A("iniciar"),
	A("acceso"), A("digite"), A("insira"), A("acesso"), A("entrar"),
	A("no compartas"), A("não compartilhe"), A("nao compartilhe"),
	A("válido"), A("valido"), A("vence"), A("expira"),
	D("pedido"), D("envío"), D("seguimiento"), D("tarjeta"),
	D("terminada en"), D("cuenta"), D("saldo"), D("importe"), D("monto"),
	D("referencia"), D("factura"), D("reserva"), D("llama"),
	D("teléfono"), D("rastreio"), D("rastreamento"), D("cartão"),
	D("cartao"), D("final"), D("conta"), D("valor"), D("referência"),
	D("fatura"), D("ligue"), D("telefone"), D("cep"), D("compra"),
	D("calle"), D("avenida"), D("rua"),
	S("código promocional"), S("código postal"), S("código de reserva"),
	S("cupom"), S("cupón"), S("código de rastreio"),
	S("código de seguimiento"), S("código de descuento"),
	S("código de barras"),
	/* French */
	C("mot de passe"), C("vérification"),
	A("saisissez"), A("saisir"), A("utilisez"), A("entrez"),
	A("connexion"), A("validation"), A("ne partagez"), A("valable"),
	D("commande"), D("suivi"), D("colis"), D("carte"),
	D("se terminant"), D("compte"), D("solde"), D("montant"),
	D("référence"), D("facture"), D("réservation"), D("appelez"),
	D("téléphone"), D("rue"),
	S("code promo"), S("code postal"), S("code de réduction"),
	S("code de suivi"),
	/* German */
	C("bestätigungscode"), C("bestaetigungscode"),
	C("verifizierungscode"), C("sicherheitscode"), C("anmeldecode"),
	C("zugangscode"), C("einmalcode"), C("einmalpasswort"),
	C("einmal-passwort"), C("kennwort"), C("passwort"),
	C("freischaltcode"), C("prüfcode"), C("aktivierungscode"),
	C("bestätigungs-code"), C("sms-code"), C("login-code"),
	C("authentifizierungscode"),
	A("gib"), A("eingeben"), A("verwende"), A("nutze"),
	A("anmeldung"), A("bestätigung"), A("bestätigen"),
	A("nicht weiter"), A("gültig"),
	D("bestellung"), D("bestellnummer"), D("sendung"),
	D("sendungsnummer"), D("paket"), D("karte"), D("endet"),
	D("endend"), D("konto"), D("kontostand"), D("betrag"),
	D("referenz"), D("rechnung"), D("buchung"), D("kundennummer"),
	D("anrufen"), D("telefon"), D("plz"), D("straße"), D("strasse"),
	D("str."),
	S("gutschein*"), S("rabattcode"), S("promo-code"),
	S("postleitzahl"), S("sendungscode"),
	/* Italian */
	C("codice"), C("verifica"),
	A("inserisci"), A("utilizza"), A("accesso"), A("non condividere"),
	D("ordine"), D("spedizione"), D("tracciamento"), D("carta"),
	D("termina"), D("conto"), D("importo"), D("riferimento"),
	D("fattura"), D("prenotazione"), D("chiama"), D("telefono"),
	D("via"), D("viale"),
	S("codice sconto"), S("codice promozionale"), S("codice fiscale"),
	S("codice postale"),
	/* Dutch */
	C("verificatiecode"), C("beveiligingscode"), C("bevestigingscode"),
	C("inlogcode"), C("wachtwoord"), C("toegangscode"),
	C("controlecode"), C("activatiecode"),
	A("gebruik"), A("voer"), A("inloggen"), A("deel deze"),
	D("bestelling"), D("bestelnummer"), D("zending"), D("pakket"),
	D("kaart"), D("eindigend"), D("rekening"), D("bedrag"),
	D("referentie"), D("factuur"), D("boeking"), D("bel"),
	D("telefoon"), D("straat"), D("laan"),
	S("kortingscode"), S("postcode"),
	/* Russian, Ukrainian */
	C("код"), C("пароль"), C("подтвержден"), C("проверочн"),
	C("підтвердж"), C("перевірк"), C("одноразов"),
	A("введите"), A("используйте"), A("вход"), A("подтвердите"),
	A("никому"), A("введіть"), A("використовуйте"), A("нікому"),
	A("не сообщайте"), A("не повідомляйте"), A("действителен"),
	D("заказ"), D("посылк"), D("отправлени"), D("трек"), D("карт"),
	D("счет"), D("счёт"), D("баланс"), D("сумм"), D("оплат"),
	D("покупк"), D("списан"), D("зачислен"), D("звоните"),
	D("телефон"), D("тел."), D("замовлен"), D("посилк"), D("рахун"),
	D("улица"), D("ул."), D("проспект"), D("баланс"), D("руб"),
	S("промокод"), S("индекс"), S("код заказа"), S("код отслеживания"),
	/* Polish */
	C("kod*"), C("hasło"), C("haslo"), C("weryfikac*"),
	A("wpisz"), A("użyj"), A("uzyj"), A("podaj"), A("logowania"),
	A("potwierdź"), A("nie udostępniaj"), A("nie podawaj"),
	D("zamówieni*"), D("przesyłk*"), D("paczk*"), D("karta"),
	D("karty"), D("konto"), D("kwota"), D("faktura"), D("rezerwacja"),
	D("zadzwoń"), D("ulica"), D("ul."),
	S("kod rabatowy"), S("kod pocztowy"), S("kod promocyjny"),
	S("kod odbioru"), S("kod nadania"), S("kodem rabatowym"),
	S("kodu rabatowego"), P("rabat*"), P("promocj*"),
	/* Turkish */
	C("şifre*"), C("sifre*"), C("doğrulama"), C("dogrulama"),
	C("parola"), C("tek kullanımlık"),
	A("giriş"), A("giris"), A("kullanın"), A("girin"), A("giriniz"),
	A("onay"), A("paylaşmayın"), A("paylasmayin"), A("kimseyle"),
	D("sipariş*"), D("siparis*"), D("kargo"), D("takip"), D("kart*"),
	D("hesap*"), D("bakiye"), D("tutar*"), D("fatura"),
	D("rezervasyon"), D("arayın"), D("sokak"), D("cadde*"),
	S("indirim kodu"), S("kupon"), S("takip kodu"), S("posta kodu"),
	/* Arabic */
	C("رمز"), C("كود"), C("كلمة المرور"), C("التحقق"), C("تحقق"),
	C("الرقم السري"), C("رقم سري"), C("كلمة السر"),
	A("أدخل"), A("ادخل"), A("استخدم"), A("تسجيل الدخول"), A("لتأكيد"),
	A("تفعيل"), A("لا تشارك"), A("صالح"),
	D("طلب"), D("شحن"), D("تتبع"), D("بطاقة"), D("البطاقة"),
	D("حساب"), D("الرصيد"), D("رصيد"), D("مبلغ"), D("المبلغ"),
	D("فاتورة"), D("حجز"), D("اتصل"), D("هاتف"), D("شارع"),
	S("رمز الخصم"), S("كود الخصم"), S("الرمز البريدي"),
	S("رمز الشحنة"),
	/* Hebrew */
	C("קוד"), C("סיסמה"), C("סיסמא"), C("אימות"),
	A("הזן"), A("הזינו"), A("להתחברות"), A("לאימות"), A("אין למסור"),
	A("אל תמסור"),
	D("הזמנה"), D("משלוח"), D("כרטיס"), D("חשבון"), D("יתרה"),
	D("סכום"), D("חשבונית"), D("טלפון"), D("רחוב"),
	S("קוד קופון"), S("קוד הנחה"), S("מיקוד"),
	/* Persian */
	C("کد"), C("رمز"), C("تایید"), C("تأیید"), C("گذرواژه"),
	A("ورود"), A("وارد کنید"), A("ندهید"), A("اعتبار"),
	D("سفارش"), D("مرسوله"), D("کارت"), D("موجودی"), D("مبلغ"),
	D("فاکتور"), D("تماس"), D("خیابان"), D("پیگیری"),
	S("کد تخفیف"), S("کد پستی"), S("کد رهگیری"), S("کد پیگیری"),
	/* A few more, cheap to know */
	C("κωδικ"), C("รหัส"), C("kód"), C("verifieringskod"),
	C("bekräftelsekod"), C("engångskod"), C("bekræftelseskode"),
	C("vahvistuskoodi"), C("koodi"), C("ellenőrző kód"), C("cod"),
	/* Hindi, Devanagari and Latin */
	C("कोड"), C("ओटीपी"), C("सत्यापन"), C("पासवर्ड"), C("पिन"),
	A("दर्ज"), A("लॉगिन"), A("साझा न"), A("share na"), A("kisi ke"),
	A("kisi se"), A("hai"),
	D("ऑर्डर"), D("कार्ड"), D("खाता"), D("खाते"), D("राशि"),
	D("बैलेंस"), D("रु"),
	/* Chinese */
	C("验证码"), C("驗證碼"), C("校验码"), C("校驗碼"), C("动态码"),
	C("動態碼"), C("动态密码"), C("密码"), C("密碼"), C("认证码"),
	C("確認碼"), C("确认码"), C("验证"), C("口令"), C("验证代码"),
	C("激活码"), C("短信码"),
	A("登录"), A("登入"), A("注册"), A("输入"), A("請輸入"), A("请输入"),
	A("确认"), A("勿告知"), A("泄露"), A("有效"), A("切勿"),
	D("订单"), D("訂單"), D("快递"), D("快遞"), D("运单"), D("单号"),
	D("卡号"), D("尾号"), D("尾號"), D("账户"), D("帳戶"), D("余额"),
	D("餘額"), D("金额"), D("金額"), D("消费"), D("支付"), D("电话"),
	D("客服"), D("发票"), D("元"),
	S("取件码"), S("提货码"), S("优惠码"), S("邀请码"), S("兑换码"),
	S("邮编"), S("券码"),
	/* Japanese */
	C("認証コード"), C("確認コード"), C("認証番号"), C("確認番号"),
	C("コード"), C("ワンタイムパスワード"), C("パスワード"),
	C("暗証番号"), C("パスコード"), C("認証"), C("ワンタイム"),
	A("ログイン"), A("入力"), A("登録"), A("有効期限"),
	D("注文"), D("配送"), D("お問い合わせ番号"), D("追跡"), D("カード"),
	D("口座"), D("残高"), D("電話"), D("予約"), D("円"),
	S("クーポン"), S("郵便番号"), S("割引コード"), S("招待コード"),
	/* Korean */
	C("인증번호"), C("인증 번호"), C("인증코드"), C("확인 코드"),
	C("확인코드"), C("비밀번호"), C("코드"), C("인증"), C("승인번호"),
	A("로그인"), A("입력"), A("가입"), A("본인확인"), A("타인"),
	D("주문"), D("배송"), D("운송장"), D("카드"), D("계좌"), D("잔액"),
	D("금액"), D("결제"), D("전화"), D("예약"), D("원 "),
	S("쿠폰"), S("할인 코드"), S("할인코드"), S("우편번호"),
	S("초대 코드"),
	/* Vietnamese */
	C("mã"), C("ma otp"), C("mật khẩu"), C("xác thực"), C("xác nhận"),
	C("xác minh"), C("otp của"), C("ma xac thuc"), C("ma xac nhan"),
	C("ma xac minh"), C("ma kich hoat"), C("mat khau"), C("ma dang nhap"),
	C("ma bao mat"), C("mã bảo mật"), C("mã kích hoạt"),
	A("kich hoat"), A("dang nhap"), A("chia se"),
	A("đăng nhập"), A("nhập"), A("kích hoạt"), A("không chia sẻ"),
	A("tuyệt đối"), A("hiệu lực"),
	D("đơn hàng"), D("vận đơn"), D("thẻ"), D("tài khoản"), D("số dư"),
	D("số tiền"), D("giao dịch"), D("gọi"), D("đường"),
	S("mã đơn"), S("mã giảm giá"), S("mã vận đơn"), S("mã khuyến mãi"),
	S("mã giao dịch"), S("mã bưu"),
	/* Indonesian */
	C("kode*"), C("kata sandi"), C("verifikasi"), C("sandi"),
	A("masuk"), A("masukkan"), A("gunakan"), A("aktivasi"),
	A("jangan berikan"), A("jangan bagikan"), A("rahasia*"),
	A("berlaku"),
	D("pesanan"), D("resi"), D("kartu"), D("rekening"), D("jumlah"),
	D("tagihan"), D("transaksi"), D("hubungi"), D("telepon"),
	D("jalan"), D("jl."),
	S("kode promo"), S("kode voucher"), S("kode booking"),
	S("kode pos"), S("kode pembayaran"), S("kode bayar"),
};

#define NWORDS	(sizeof(words) / sizeof(words[0]))

static uint16_t	 wlen[NWORDS];
static uint8_t	 wstem[NWORDS];
static uint16_t	 order[NWORDS];		/* word indexes by first byte */
static uint16_t	 first[257];		/* order[first[b]..first[b+1]) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
kw_init(void)
{
	size_t i, b, k = 0;

	for (i = 0; i < NWORDS; i++) {
		size_t l = strlen(words[i].s);

		wstem[i] = l > 1 && words[i].s[l - 1] == '*';
		wlen[i] = (uint16_t)(wstem[i] ? l - 1 : l);
	}
	for (b = 0; b < 256; b++) {
		first[b] = (uint16_t)k;
		for (i = 0; i < NWORDS; i++)
			if ((unsigned char)words[i].s[0] == b)
				order[k++] = (uint16_t)i;
	}
	first[256] = (uint16_t)k;
}

static int
is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Inflected words run on: "подтверждения" for "подтвержден", "codes"
 * for "code".  Only letters of alphabetic scripts extend a hit (ASCII
 * and two-byte UTF-8: Latin, Greek, Cyrillic, Hebrew, Arabic); CJK and
 * other three-byte scripts have no spaces, so a hit there stays as is.
 */
static size_t
word_end(const char *s, size_t n, size_t e)
{
	while (e < n) {
		unsigned char c = (unsigned char)s[e];
		unsigned char d = e + 1 < n ? (unsigned char)s[e + 1] : 0;

		if (is_alpha(c))
			e++;
		else if (c >= 0xc3 && c <= 0xdb && (d & 0xc0) == 0x80 &&
		    !(c == 0xd8 && (d == 0x8c || d == 0x9b || d == 0x9f)) &&
		    !(c == 0xd7 && (d == 0x80 || d == 0x83 || d == 0x86 ||
		    d == 0xb3 || d == 0xb4)))
			e += 2;
		else
			break;
	}
	return e;
}

size_t
kw_scan(const char *s, size_t n, const uint8_t *skip, struct kw_hit *hits,
    size_t max)
{
	size_t i, k, nh = 0, j, o;

	pthread_once(&once, kw_init);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (first[c] == first[c + 1] || (skip != NULL && skip[i]))
			continue;
		if (is_alnum(c) && i > 0 && is_alnum((unsigned char)s[i - 1]))
			continue;
		for (k = first[c]; k < first[c + 1]; k++) {
			size_t w = order[k], l = wlen[w];
			unsigned char last;

			if (l > n - i || (l > 1 && s[i + 1] != words[w].s[1]) ||
			    memcmp(s + i, words[w].s, l) != 0)
				continue;
			last = (unsigned char)words[w].s[l - 1];
			if (!wstem[w] && is_alpha(last) && i + l < n &&
			    is_alpha((unsigned char)s[i + l]))
				continue;
			if (nh >= max)
				goto out;
			hits[nh].start = (uint32_t)i;
			hits[nh].end = (uint32_t)word_end(s, n, i + l);
			hits[nh].type = words[w].type;
			nh++;
		}
	}
out:
	/* A code word inside "promo code" or "zip code" is not one. */
	for (j = 0, o = 0; j < nh; j++) {
		int drop = 0;

		if (hits[j].type == KW_CODE || hits[j].type == KW_ACT) {
			/* Hits are in start order; a phrase covering this
			 * one starts at most 64 bytes before it. */
			for (k = j; k-- > 0 && hits[k].start + 64 >=
			    hits[j].start; )
				if (hits[k].type == KW_SUPPRESS &&
				    hits[k].end >= hits[j].end) {
					drop = 1;
					break;
				}
			for (k = j + 1; !drop && k < nh &&
			    hits[k].start == hits[j].start; k++)
				if (hits[k].type == KW_SUPPRESS &&
				    hits[k].end >= hits[j].end)
					drop = 1;
		}
		if (!drop)
			hits[o++] = hits[j];
	}
	return o;
}

static const struct lit connectors[] = {
	L("is"), L("is:"), L("es"), L("est"), L("ist"), L("lautet"), L("è"),
	L("é"), L("e"), L("to"), L("this"), L("your"), L("ur"), L("the"),
	L("a"), L("an"), L("il"), L("le"), L("la"), L("el"), L("de"),
	L("da"), L("do"), L("du"), L("di"), L("o"), L("van"), L("je"),
	L("uw"), L("jouw"), L("dein"), L("deine"), L("ihr"), L("ihre"),
	L("votre"), L("ton"), L("tu"), L("su"), L("seu"), L("sua"), L("tuo"),
	L("twój"), L("twoj"), L("ваш"), L("твой"), L("это"), L("là"),
	L("của"), L("bạn"), L("anda"), L("adalah"), L("kamu"), L("hai"),
	L("है"), L("aapka"), L("apka"), L("sizin"), L("هو"), L("لك"),
	L("شما"), L("שלך"), L("הוא"), L("number"), L("no"), L("no."),
	L("nr"), L("nr."), L("nummer"), L("номер"), L("for"), L("per"),
	L("para"), L("pour"), L("für"), L("voor"), L("для"), L("dla"),
	L("için"), L("untuk"), L("cho"), L("new"), L("temporary"), L("sms"),
	L("email"), L("e-mail"), L("security"), L("login"), L("otp"),
	L("here"), L("below"), L("follows"), L("as"), L("follows:"),
	L("ist:"), L("est:"), L("es:"), L("é:"), L("wynosi"), L("brzmi"),
	L("şudur"), L("olan"), L("به"), L("برای"), L("של"), L("من"), L("al"),
	L("der"), L("die"), L("das"), L("des"), L("est :"), L("und"), L("y"),
	L("et"), L("ini"), L("kode"), L("is :"), L("will"), L("be"),
	L("now"), L("de acesso"), L("de verificación"), L("de verificação"),
	L("de vérification"), L("di verifica"), L("code"), L("pin"),
	L("passcode"), L("one-time"), L("one"), L("time"), L("verification"),
	L("account"), L("confirmation"), L("digit"), L("6-digit"),
	L("4-digit"), L("ваш"), L("вашего"), L("ui"), L("app"),
	L("vérification"), L("verificación"), L("verificação"), L("bitte"),
	L("please"), L("here:"), L("inserisci"), L("usa"), L("enter"),
	L("use"), L("is"), L("one-time"), L("único"), L("unico"), L("是"),
	L("为"), L("為"), L("は"), L("은"), L("는"), L("이"), L("가"), L("입니다"),
	L("です"), L("："), L("您的"), L("你的"), L("的"), L("码"), L("碼"), L("号"),
	L("號"), L("为："), L("是："), L("番号"), L("を"), L("는:"), L("을"), L("를"),
	L("№"), L("nr"), L("n°"), L("nº"), L("n."), L("cua"), L("ban"),
	L("la"), L("quy"), L("khach"), L("của"), L("quý"), L("khách"),
	L("が"), L("の"), L("jest"), L("twoim"), L("sua"),
};

/* Words that may also stand between a decoy and its number ("card
 * ending in 4821", "account at Noon"), but not between a code word and a
 * code ("code in 2025" is a sentence, not a code). */
static const struct lit decoy_connectors[] = {
	L("#"), L("ending"), L("in"), L("with"), L("on"), L("at"), L("of"),
	L("a/c"), L("xx"), L("number"), L("no"), L("no."),
};

int
kw_connector(const char *w, size_t n, int decoy)
{
	size_t j;

	if (decoy)
		for (j = 0; j < sizeof(decoy_connectors) /
		    sizeof(decoy_connectors[0]); j++)
			if (decoy_connectors[j].len == n &&
			    memcmp(w, decoy_connectors[j].s, n) == 0)
				return 1;

	for (j = 0; j < sizeof(connectors) / sizeof(connectors[0]); j++)
		if (connectors[j].len == n && w[0] == connectors[j].s[0] &&
		    memcmp(w, connectors[j].s, n) == 0)
			return 1;
	return 0;
}

static const struct lit currency[] = {
	L("$"), L("€"), L("£"), L("¥"), L("₹"), L("₽"), L("₺"), L("₩"),
	L("₫"), L("₪"), L("₴"), L("₦"), L("₱"), L("฿"), L("₸"), L("৳"),
	L("r$"), L("rs"), L("rs."), L("inr"), L("usd"), L("eur"), L("gbp"),
	L("rub"), L("руб"), L("р."), L("грн"), L("zł"), L("zl"), L("pln"),
	L("tl"), L("try"), L("cny"), L("rmb"), L("元"), L("円"), L("원"),
	L("đ"), L("vnd"), L("rp"), L("rp."), L("idr"), L("mxn"), L("brl"),
	L("chf"), L("kr"), L("sek"), L("nok"), L("dkk"), L("aed"), L("sar"),
	L("درهم"), L("ريال"), L("ر.س"), L("ש\"ח"), L("ש״ח"), L("שקל"),
	L("تومان"), L("ریال"), L("dollar"), L("dollars"), L("euro"),
	L("euros"), L("pesos"), L("reais"), L("rupees"), L("yuan"),
	L("lira"), L("dirham"), L("сум"), L("tk"), L("cad"), L("aud"),
	L("jpy"), L("krw"), L("us$"), L("c$"), L("a$"), L("eгp"), L("egp"),
	L("ngn"), L("php"), L("thb"), L("myr"), L("sgd"), L("hkd"), L("dh"),
	L("جنيه"), L("рублей"), L("гривень"), L("złotych"), L("lei"),
	L("ron"), L("huf"), L("czk"), L("kč"), L("ft"),
};

static int
cur_word(const char *w)
{
	return is_alpha((unsigned char)w[0]);
}


size_t
kw_currency_after(const char *s, size_t n)
{
	size_t j;

	for (j = 0; j < sizeof(currency) / sizeof(currency[0]); j++) {
		size_t l = currency[j].len;

		if (l > n || s[0] != currency[j].s[0] ||
		    memcmp(s, currency[j].s, l) != 0)
			continue;
		if (cur_word(currency[j].s) && l < n &&
		    is_alpha((unsigned char)s[l]))
			continue;
		return l;
	}
	return 0;
}

size_t
kw_currency_before(const char *s, size_t n)
{
	size_t j;

	for (j = 0; j < sizeof(currency) / sizeof(currency[0]); j++) {
		size_t l = currency[j].len;

		if (l > n || s[n - 1] != currency[j].s[l - 1] ||
		    memcmp(s + n - l, currency[j].s, l) != 0)
			continue;
		if (cur_word(currency[j].s) && l < n &&
		    is_alpha((unsigned char)s[n - l - 1]))
			continue;
		return l;
	}
	return 0;
}

static const struct lit units[] = {
	L("%"), L("gb"), L("mb"), L("kb"), L("tb"), L("km"), L("kg"),
	L("mi"), L("miles"), L("points"), L("pts"), L("pontos"), L("puntos"),
	L("punkte"), L("punti"), L("punten"), L("баллов"), L("балла"),
	L("бонус"), L("积分"), L("積分"), L("포인트"), L("ポイント"), L("poin"),
	L("puan"), L("min"), L("mins"), L("minutes"), L("minutos"),
	L("minuten"), L("minuti"), L("минут"), L("хвилин"), L("minut"),
	L("dakika"), L("phút"), L("menit"), L("分"), L("분"), L("hours"),
	L("hrs"), L("stunden"), L("horas"), L("ore"), L("часов"), L("годин"),
	L("godzin"), L("saat"), L("giờ"), L("jam"), L("小时"), L("時間"),
	L("시간"), L("days"), L("días"), L("dias"), L("tage"), L("giorni"),
	L("дней"), L("днів"), L("dni"), L("gün"), L("ngày"), L("hari"),
	L("天"), L("日"), L("일"), L("年"), L("년"), L("năm"), L("tahun"),
	L("yıl"), L("г."), L("года"), L("год"), L("року"), L("sq"),
	L("sqft"), L("ft"), L("steps"), L("kcal"), L("cal"), L("mg"),
	L("ml"), L("times"), L("followers"), L("likes"), L("views"),
	L("members"), L("users"), L("people"), L("personen"), L("personas"),
	L("pessoas"), L("personnes"), L("человек"), L("visitors"), L("件"),
	L("个"), L("個"), L("人"), L("명"), L("개"), L("月"), L("월"), L("号"),
	L("號"), L("street"), L("st"), L("st."), L("ave"), L("avenue"),
	L("road"), L("rd"), L("blvd"), L("boulevard"), L("lane"), L("ln"),
	L("drive"), L("dr"), L("way"), L("parkway"), L("pkwy"), L("court"),
	L("ct"), L("place"), L("highway"), L("hwy"), L("plaza"), L("bytes"),
	L("mbps"), L("ms"), L("sms"), L("messages"), L("items"), L("orders"),
	L("km/h"), L("mph"), L("lbs"), L("oz"), L("w"), L("kw"), L("kwh"),
	L("mah"), L("v"), L("hz"), L("ghz"), L("mhz"), L("dpi"),
};

int
kw_unit_after(const char *s, size_t n)
{
	size_t j;

	for (j = 0; j < sizeof(units) / sizeof(units[0]); j++) {
		size_t l = units[j].len;

		if (l > n || s[0] != units[j].s[0] ||
		    memcmp(s, units[j].s, l) != 0)
			continue;
		if (is_alpha((unsigned char)units[j].s[l - 1]) && l < n &&
		    is_alpha((unsigned char)s[l]))
			continue;
		return 1;
	}
	return 0;
}

static const struct lit stopwords[] = {
	L("CODE"), L("STOP"), L("HELP"), L("INFO"), L("OTP"), L("SMS"),
	L("YOUR"), L("THIS"), L("THAT"), L("WITH"), L("FROM"), L("HAVE"),
	L("WILL"), L("DONT"), L("NEVER"), L("SHARE"), L("ANYONE"),
	L("VALID"), L("ENTER"), L("LOGIN"), L("VERIFY"), L("BANK"),
	L("ALERT"), L("URGENT"), L("NOTE"), L("CALL"), L("TEXT"), L("REPLY"),
	L("FREE"), L("CASH"), L("HTTP"), L("HTTPS"), L("HTML"), L("NOT"),
	L("DO"), L("THE"), L("AND"), L("FOR"), L("ONLY"), L("ONCE"),
	L("ONE"), L("TIME"), L("USE"), L("IMPORTANT"), L("WARNING"),
	L("NOTICE"), L("DEAR"), L("HELLO"), L("THANKS"), L("THANK"),
	L("PLEASE"), L("READY"), L("BELOW"), L("ABOVE"), L("HERE"),
	L("CLICK"), L("LINK"), L("EMAIL"), L("MAIL"), L("PHONE"),
	L("MOBILE"), L("NUMBER"), L("ACCOUNT"), L("PASSWORD"), L("SECURITY"),
	L("SECURE"), L("VERIFICATION"), L("CONFIRM"), L("CONFIRMATION"),
	L("ACCESS"), L("SIGN"), L("SIGNIN"), L("LOGON"), L("EXPIRES"),
	L("MINUTES"), L("MINS"), L("HOURS"), L("TODAY"), L("NOW"), L("NEW"),
	L("YES"), L("TEAM"), L("SUPPORT"), L("SERVICE"), L("ADMIN"),
	L("NULL"), L("NONE"), L("TRUE"), L("FALSE"), L("PIN"), L("TAN"),
	L("KOD"), L("KODE"), L("CODIGO"), L("CODICE"), L("SENHA"),
	L("CLAVE"), L("OTP"), L("ATTENTION"), L("ACHTUNG"), L("AVISO"),
	L("JANGAN"), L("RAHASIA"), L("PENTING"), L("GOOGLE"), L("APPLE"),
	L("AMAZON"), L("PAYPAL"), L("MICROSOFT"), L("UBER"), L("STEAM"),
	L("GUARD"), L("NETFLIX"), L("TWITTER"), L("FACEBOOK"), L("META"),
	L("TIKTOK"), L("WHATSAPP"), L("TELEGRAM"), L("SIGNAL"), L("VIBER"),
	L("LINE"), L("INSTAGRAM"), L("DISCORD"), L("SNAPCHAT"),
	L("LINKEDIN"), L("YAHOO"), L("OUTLOOK"), L("ICICI"), L("HDFC"),
	L("AXIS"), L("KOTAK"), L("PAYTM"), L("PHONEPE"), L("SBI"), L("BNI"),
	L("BCA"), L("BRI"), L("MANDIRI"), L("GOJEK"), L("GRAB"), L("SHOPEE"),
	L("LAZADA"), L("TOKOPEDIA"), L("ALIPAY"), L("WECHAT"), L("NAVER"),
	L("KAKAO"), L("COUPANG"), L("YANDEX"), L("SBER"), L("TINKOFF"),
	L("REVOLUT"), L("MONZO"), L("WISE"), L("VISA"), L("MASTERCARD"),
	L("AMEX"), L("ATM"), L("UPI"), L("NEFT"), L("IMPS"), L("USD"),
	L("EUR"), L("GBP"), L("INR"), L("AUTH"), L("SMSTAN"), L("MTAN"),
	L("PUSHTAN"), L("ALERTA"), L("CODIGO"), L("ZUGANG"), L("HINWEIS"),
	L("ASAP"), L("FAQ"), L("FYI"), L("CEO"), L("LLC"), L("INC"),
	L("LTD"), L("GMBH"), L("CORP"), L("WWW"), L("COM"), L("NET"),
	L("ORG"),
};

int
kw_stopword(const char *w, size_t n)
{
	size_t j;

	for (j = 0; j < sizeof(stopwords) / sizeof(stopwords[0]); j++)
		if (stopwords[j].len == n && w[0] == stopwords[j].s[0] &&
		    memcmp(w, stopwords[j].s, n) == 0)
			return 1;
	return 0;
}
