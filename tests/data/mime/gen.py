#!/usr/bin/python3
"""Regenerates the MIME test messages in this folder (NNN-what.eml plus
NNN-what.want).  The .eml files are committed; run this only to change
them.  .want lines are "key: value": from, display, subject, message_id,
text, html (exact), date (unix seconds), KEY~ (substring), KEYnot~
(absent), reject (rejection reason), ok (must parse).  Standard library
only; messages use CRLF line ends."""
import base64, quopri, os, codecs
D=os.path.dirname(os.path.abspath(__file__))
os.makedirs(D, exist_ok=True)
def w(name, eml, want):
    if isinstance(eml, str): eml = eml.encode('utf-8')
    eml = eml.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    open(f'{D}/{name}.eml','wb').write(eml)
    open(f'{D}/{name}.want','w',encoding='utf-8').write(want.strip()+'\n')

H = lambda subj, ct, extra='': (f"From: Example Service <no-reply@example.com>\nTo: agent@agents.example.org\n"
      f"Subject: {subj}\nDate: Tue, 3 Mar 2026 10:15:00 +0000\nMessage-ID: <m1@example.com>\nMIME-Version: 1.0\n{extra}Content-Type: {ct}\n")

# 1 plain ascii
w('001-plain-ascii', H('Your code','text/plain; charset=us-ascii') + "\nYour verification code is 482913.\nIt expires in 10 minutes.\n",
"""from: no-reply@example.com
display: Example Service
subject: Your code
message_id: <m1@example.com>
date: 1772532900
text~: Your verification code is 482913.
html: """)

# 2 quoted printable soft break inside URL
url = "https://accounts.example.com/verify?token=8f2b1c9d0e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c&user=agent%40agents.example.org&redirect=https%3A%2F%2Fexample.com"
body = f"Please confirm your address:\n{url}\n\nThanks =E2=80=94 Example"
qp = quopri.encodestring(f"Please confirm your address:\n{url}\n\nThanks — Example".encode()).decode()
w('002-qp-soft-break-url', H('Confirm your email','text/plain; charset=utf-8','Content-Transfer-Encoding: quoted-printable\n') + "\n" + qp + "\n",
f"""text~: {url}
text~: Thanks — Example""")

# 3 base64 utf-8 alternative with html
txt = "Ваш код подтверждения: 739201\n"
html = "<html><head><style>.x{color:#202123}</style><title>T</title></head><body><p>Ваш код&nbsp;подтверждения:</p><div><b>739201</b></div><script>var a='secret-js';</script><a href=\"https://example.ru/c?a=1&amp;b=2\">Подтвердить</a></body></html>"
e = H('=?UTF-8?B?' + base64.b64encode("Код подтверждения".encode()).decode() + '?=', 'multipart/alternative; boundary="alt-1"') + f"""
This is a multi-part message.
--alt-1
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{base64.encodebytes(txt.encode()).decode()}
--alt-1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{base64.encodebytes(html.encode()).decode()}
--alt-1--
epilogue
"""
w('003-alternative-base64-ru', e, """subject: Код подтверждения
text~: Ваш код подтверждения: 739201
html~: <b>739201</b>
html~: https://example.ru/c?a=1&amp;b=2""")

# 4 html only -> derived text
html = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Verify</title><style>body{font:12px}</style></head>
<body><!-- hidden comment 999999 --><table><tr><td>Your code</td><td>is</td></tr></table>
<p>Use&#32;<strong>551 203</strong> &amp; enjoy&hellip;</p><script>track(123456)</script>
<p>Caf&eacute; &#x2014; &#8203;zero&zwnj;width</p></body></html>"""
w('004-html-only-derived', H('Verify','text/html; charset=utf-8') + "\n" + html, """text~: Your code is
text~: Use 551 203 & enjoy…
text~: Café — zerowidth
textnot~: 999999
textnot~: 123456
textnot~: font:12px
textnot~: Verify
html~: <strong>551 203</strong>""")

# 5 related + mixed with forwarded message/rfc822
inner = """From: "Bank Alerts" <alerts@bank.example>
Subject: =?ISO-8859-1?Q?Code_de_s=E9curit=E9?=
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Votre code de s=E9curit=E9 est 661043.
"""
e = H('Fwd: Code de sécurité', 'multipart/mixed; boundary="mix"').replace('Subject: Fwd: Code de sécurité','Subject: Fwd: =?ISO-8859-1?Q?Code_de_s=E9curit=E9?=') + f"""
--mix
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8

Forwarding this, see below.
--alt
Content-Type: text/html; charset=utf-8

<p>Forwarding this, see below.</p>
--alt--
--rel
Content-Type: image/png
Content-Transfer-Encoding: base64
Content-ID: <logo>

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--rel--
--mix
Content-Type: message/rfc822
Content-Disposition: inline

{inner}
--mix
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

attachment text 777777 must not appear
--mix--
"""
w('005-mixed-related-forward', e, """subject: Fwd: Code de sécurité
text~: Forwarding this, see below.
text~: Votre code de sécurité est 661043.
textnot~: 777777
textnot~: iVBOR
html~: <p>Forwarding this, see below.</p>""")

# charsets
samples = [
 ('iso-8859-1', 'Votre code de vérification est 123456'),
 ('iso-8859-2', 'Twój kod weryfikacyjny to 123456 żółć'),
 ('iso-8859-5', 'Ваш код 123456'),
 ('iso-8859-7', 'Ο κωδικός σας είναι 123456'),
 ('iso-8859-9', 'Doğrulama kodunuz 123456'),
 ('iso-8859-15', 'Code 123456 coûte 5 €'),
 ('windows-1250', 'Váš ověřovací kód je 123456'),
 ('windows-1251', 'Ваш код подтверждения 123456'),
 ('windows-1252', 'Your code is 123456 — “quoted”'),
 ('windows-1253', 'Ο κωδικός σας 123456'),
 ('windows-1254', 'Doğrulama kodunuz: 123456'),
 ('windows-1255', 'קוד האימות שלך 123456'),
 ('windows-1256', 'رمز التحقق الخاص بك 123456'),
 ('windows-1257', 'Jūsų kodas 123456'),
 ('windows-1258', 'Đơn ông ưu 123456'),
 ('koi8-r', 'Ваш код подтверждения: 123456'),
 ('koi8-u', 'Ваш код підтвердження: 123456'),
 ('shift_jis', '認証コードは 123456 です'),
 ('euc-jp', '確認コード：123456'),
 ('iso-2022-jp', 'ワンタイムパスワードは 123456 です'),
 ('gb2312', '您的验证码是 123456'),
 ('gbk', '您的验证码是 123456 欢迎'),
 ('gb18030', '验证码 123456 €'),
 ('big5', '您的驗證碼是 123456'),
 ('euc-kr', '인증번호는 123456 입니다'),
 ('ks_c_5601-1987', '인증 코드 123456'),
]
pyname = {'windows-1258':'cp1258','ks_c_5601-1987':'cp949','gbk':'gbk','shift_jis':'cp932'}
n = 10
for cs, text in samples:
    raw = text.encode(pyname.get(cs, cs))
    for enc in ('8bit', 'base64', 'quoted-printable'):
        pass
    enc = ['8bit','base64','quoted-printable'][n % 3]
    if cs == 'iso-2022-jp': enc = '7bit'
    if enc == 'base64': b = base64.encodebytes(raw)
    elif enc == 'quoted-printable': b = quopri.encodestring(raw)
    else: b = raw
    subj = '=?' + cs + '?B?' + base64.b64encode(raw).decode() + '?='
    hdr = H(subj, f'text/plain; charset="{cs}"', f'Content-Transfer-Encoding: {enc}\n').encode()
    w(f'{n:03d}-charset-{cs}', hdr + b'\n' + b + b'\n', f"subject: {text}\ntext~: {text}")
    n += 1

# RFC 2047 subjects
w('040-rfc2047-mixed', H('=?UTF-8?B?Vm90cmUgY29kZQ==?= =?ISO-8859-1?Q?_=E0_usage_unique_=E9t=E9?=', 'text/plain'), "subject: Votre code à usage unique été\ntext: ")
# split multibyte across encoded words
s = "認証コード".encode('utf-8')
w('041-rfc2047-split-multibyte', H('=?UTF-8?B?' + base64.b64encode(s[:4]).decode() + '?=\n =?UTF-8?B?' + base64.b64encode(s[4:]).decode() + '?= 42', 'text/plain'), "subject: 認証コード 42")
w('042-rfc2047-lowercase-q-underscore', H('=?utf-8?q?Your_code_is_=F0=9F=94=91?= ready', 'text/plain'), "subject: Your code is 🔑 ready")
w('043-rfc2047-bad-charset', H('=?x-unknown?Q?caf=C3=A9?= and =?utf-8?X?bad?=', 'text/plain'), "subject: café and =?utf-8?X?bad?=")
# From forms
w('044-from-quoted-encoded', 'From: "=?UTF-8?Q?Jos=C3=A9_from_Acme?=" <Jose@Acme.example>\nSubject: hi\n\nbody\n', "from: Jose@Acme.example\ndisplay: José from Acme\ntext~: body")
w('045-from-bare-comment', 'From: alerts@bank.example (Bank, Inc.)\nSubject: x\n\nb\n', "from: alerts@bank.example\ndisplay: Bank, Inc.")
w('046-from-group', 'From: Team: first@example.com, second@example.com;\nSubject: x\n\nb\n', "from: first@example.com\ndisplay: ")
w('047-from-quoted-comma', 'From: "Doe, John \\"JD\\"" <john@example.com>, other@example.com\nSubject: x\n\nb\n', 'from: john@example.com\ndisplay: Doe, John "JD"')
# malformed headers
w('048-malformed-headers', "From no colon here\nSubject x\n\nstill the body 12345\n", "from: \nsubject: \ntext~: still the body 12345")
w('049-folded-subject-and-lf', "Subject: Your\n\tverification\n  code\nFrom: <a@b.example>\nDate: Thu, 01 Jan 1970 00:00:00 GMT\n\nline\n", "subject: Your verification code\nfrom: a@b.example\ndate: 0\ntext: line")
w('050-date-zone', "Date: Mon, 2 Jan 2006 15:04:05 -0700 (MST)\nSubject: d\n\nx\n", "date: 1136239445")
w('051-date-garbage', "Date: yesterday-ish\nSubject: d\n\nx\n", "date: 0")
# bad boundary
w('052-boundary-quote', H('crash', 'multipart/mixed; boundary="\\""') + '\n--"\nContent-Type: text/plain\n\nhi\n--"--\n', "reject: bad boundary")
w('053-boundary-empty', H('crash', 'multipart/mixed; boundary=""') + '\n--\n\nhi\n', "reject: bad boundary")
w('054-boundary-missing-param', H('nob', 'multipart/mixed') + '\n--x\nContent-Type: text/plain\n\nhi\n--x--\n', "text: ")
w('055-boundary-never-appears', H('nob', 'multipart/mixed; boundary="zzz"') + '\npreamble only\n--other\n\nhi\n', "text: ")
# boundary prefix collision + no close delimiter
e = H('pfx', 'multipart/mixed; boundary="b"') + '\n--b\nContent-Type: text/plain\n\nfirst part\n--bb not a delimiter\n--b\nContent-Type: text/plain\n\nsecond part without close\n'
w('056-boundary-prefix-noclose', e, "text~: first part\n--bb not a delimiter\ntext~: second part without close")
# invalid charset, invalid utf8
w('057-invalid-charset', H('x', 'text/plain; charset="x-made-up-42"', 'Content-Transfer-Encoding: 8bit\n').encode() + b'\nok \xff\xfe caf\xc3\xa9 \xc3\n', "text~: ok \ufffd\ufffd café")
w('058-invalid-utf8-subject', b'Subject: bad \xc0\xaf \xed\xa0\x80 end\nFrom: x@y\n\nz\n', "subject~: end\nsubject~: bad \ufffd")
# binary junk
import random
r = random.Random(7)
junk = bytes(r.randrange(256) for _ in range(4000))
w('059-binary-junk', junk, "ok: 1")
w('060-nul-bytes', b'Subject: a\x00b\nContent-Type: text/plain\n\ncode\x00 123\n', "subject: ab\ntext~: code 123")
# multipart/digest default message/rfc822
e = H('digest', 'multipart/digest; boundary=d') + '\n--d\n\nSubject: in digest\nContent-Type: text/plain\n\ndigest body 31337\n--d--\n'
w('061-digest', e, "text~: digest body 31337")
# base64 encoded message/rfc822 and nested forwards (3 deep)
def fwd(level):
    if level == 0:
        return "From: deep@example.com\nSubject: deep\nContent-Type: text/plain\n\ninnermost code 918273\n"
    return f"From: f{level}@example.com\nSubject: Fwd {level}\nContent-Type: multipart/mixed; boundary=\"L{level}\"\n\n--L{level}\nContent-Type: text/plain\n\nforward note {level}\n--L{level}\nContent-Type: message/rfc822\n\n{fwd(level-1)}\n--L{level}--\n"
w('062-nested-forwards', fwd(4), "text~: forward note 4\ntext~: forward note 1\ntext~: innermost code 918273\nsubject: Fwd 4")
# alternative prefers first text/plain, html kept
e = H('alt order', 'multipart/alternative; boundary=a') + '\n--a\nContent-Type: text/html\n\n<p>html first</p>\n--a\nContent-Type: text/plain\n\nplain second\n--a--\n'
w('063-alternative-html-first', e, "text: plain second\nhtml: <p>html first</p>")
# html with charset windows-1252 and entity in URL
e = H('html cp1252', 'text/html; charset=windows-1252', 'Content-Transfer-Encoding: quoted-printable\n') + '\n<a href=3D"https://x.example/v?a=3D1&amp;b=3D2">Confirm =96 now</a><br>Gr=FC=DFe\n'
w('064-html-cp1252-qp', e, "text~: Confirm – now\ntext~: Grüße\nhtml~: href=\"https://x.example/v?a=1&amp;b=2\"")
# deep nesting 40 levels
def deep(k):
    s = H('deep', 'multipart/mixed; boundary="B0"') + '\n'
    for i in range(k):
        s += f'--B{i}\nContent-Type: multipart/mixed; boundary="B{i+1}"\n\n'
    s += f'--B{k}\nContent-Type: text/plain\n\ndeep text\n'
    for i in range(k, -1, -1):
        s += f'--B{i}--\n'
    return s
w('065-nesting-40', deep(40), "reject: nested too deep")
w('066-nesting-10', deep(10), "text~: deep text")
# too many parts
s = H('many', 'multipart/mixed; boundary=p') + '\n' + ''.join('--p\nContent-Type: text/plain\n\nx\n' for _ in range(300)) + '--p--\n'
w('067-too-many-parts', s, "reject: too many parts")
# header too large
w('068-header-too-large', 'Subject: big\nX-Pad: ' + 'a'*(300*1024) + '\n\nbody\n', "reject: header too large")
# no headers at all, body only
w('069-no-blank-line', 'Subject: only headers', "subject: only headers\ntext: ")
# mixed case params, comments, unquoted charset with spaces
e = 'Subject: c\nCONTENT-TYPE: Text/Plain (comment) ; CharSet = "ISO-8859-1" ; format=flowed\ncontent-transfer-encoding: Quoted-Printable\n\nd=E9j=E0 vu\n'
w('070-header-case-comments', e, "text: déjà vu")
# utf-16
w('071-utf16', H('u16', 'text/plain; charset=utf-16', 'Content-Transfer-Encoding: base64\n') + '\n' + base64.b64encode('code 424242'.encode('utf-16')).decode() + '\n', "text: code 424242")
# message-id and from with mailto / unicode in 8bit header
w('072-8bit-utf8-headers', 'From: Zoë <zoe@exämple.com>\nSubject: Код 123\n\nx\n', "from: zoe@exämple.com\ndisplay: Zoë\nsubject: Код 123")
w('073-mbox-from-line', 'From sender@example.com Mon Jan  2 15:04:05 2006\nFrom: Sender <sender@example.com>\nSubject: mbox\n\nmbox body 5511\n', "from: sender@example.com\nsubject: mbox\ntext: mbox body 5511")
w('074-charset-aliases', 'Subject: =?big5_tw?b?' + base64.b64encode('您的驗證碼是 123456'.encode('big5')).decode() + '?=\nContent-Type: text/plain; charset=eucgb2312_cn\nContent-Transfer-Encoding: base64\n\n' + base64.b64encode('验证码 654321'.encode('gb2312')).decode() + '\n', "subject: 您的驗證碼是 123456\ntext: 验证码 654321")
w('075-hebrew-8-i', 'Subject: =?iso-8859-8-i?b?' + base64.b64encode('קוד 111222'.encode('iso-8859-8')).decode() + '?=\n\nx\n', "subject: קוד 111222")
w('076-html-meta-charset', b'Subject: meta\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head><body>' + '<p>Ваш код 909090</p>'.encode('cp1251') + b'</body></html>\n', "text: Ваш код 909090")
w('077-html-meta-charset5', b'Subject: meta\nContent-Type: text/html\n\n<meta charset="iso-8859-2"><p>' + 'Kód łódź 313131'.encode('iso-8859-2') + b'</p>\n', "text: Kód łódź 313131")
w('078-latin1-holds-cp1252', b'Subject: =?iso-8859-1?q?=93quoted=94?=\nContent-Type: text/plain; charset=iso-8859-1\n\n\x93Code\x94 \x96 caf\xe9 424242\n', "subject: “quoted”\ntext: “Code” – café 424242")
