#!/usr/bin/env python3
"""gen_common_passwords.py - write data/common-passwords.txt, the passwords
ruxue refuses for staff accounts (src/server/rx_auth.c).

The list is composed here from the patterns people fall back on, not copied
from any published list: words everyone tries first (English and pinyin:
'password', 'admin', 'woaini', 'zhangsan', the city, the school), the same
with digits and symbols swapped in, followed by years, runs and the lucky
numbers (520, 1314, 666, 888); runs of one digit, counting up and down;
keyboard walks of the US layout.  Everything is lower case (the server
compares in lower case), at least 4 characters, sorted in byte order (the
server searches it by bisection) and unique.

Usage: tools/gen_common_passwords.py > data/common-passwords.txt
"""
import sys

WORDS = """
password passwd passw0rd p@ssword p@ssw0rd pass mima mimamima
admin administrator admin123 root superuser manager system sysadmin guanliyuan
qwerty qwertyuiop asdfgh asdfghjkl zxcvbn zxcvbnm qazwsx qazwsxedc 1qaz2wsx
1q2w3e4r 1q2w3e4r5t qweasd qweasdzxc abc abcd abcdef abcdefg abcdefgh
letmein welcome iloveyou sunshine dragon monkey football baseball master
superman batman trustno1 changeme default secret login guest test tester
hello hellokitty princess shadow michael jennifer computer internet
school teacher student class laoshi xuesheng xuexiao jiaoyu jiaoyuju
ruxue ruxue2027 zhaosheng baoming xiaoxue chuzhong
woaini woaiwojia woainima aini nihao nihaoma haha hehe xixi
zhangsan lisi wangwu zhaoliu zhangwei wangwei wangfang liwei lina
zhangmin liuyang wangjing liqiang zhangjie xiaoming xiaohong
beijing shanghai guangzhou shenzhen tianjin chongqing chengdu wuhan
hangzhou nanjing xian zhongguo china chinese huawei xiaomi baidu
tencent alibaba taobao weixin wechat qq qqqq dadada
""".split()

SUFFIXES = ["", "1", "01", "12", "123", "1234", "12345", "123456", "1234567",
            "12345678", "123456789", "!", "!!", "@", "#", "1!", "123!", "@123",
            "#123", "!@#", "!@#$", "000", "111", "520", "521", "1314", "5201314",
            "666", "888", "999", "168", "8888", "6666", "0000", "007", ".", "_"]
YEARS = [str(y) for y in range(1960, 2031)] + ["@" + str(y) for y in range(2015, 2031)]

ROWS = ["1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./",
        "!@#$%^&*()_+", "1qaz2wsx3edc4rfv5tgb6yhn7ujm", "qazwsxedcrfvtgbyhnujm",
        "1q2w3e4r5t6y7u8i9o0p", "zaq12wsx", "zaq1xsw2cde3", "!qaz@wsx#edc",
        "qweasdzxc", "poiuytrewq", "lkjhgfdsa", "mnbvcxz", "0987654321"]

NUMBERS = ["5201314", "1314520", "147258369", "159357", "159753", "741852963",
           "123123", "123321", "112233", "11223344", "121212", "654321",
           "666666", "888888", "168168", "520520", "aaaaaa", "abc123", "a123456",
           "aa123456", "qq123456", "woaini1314", "iloveyou1314"]


def main():
    out = set()
    for w in WORDS:
        for s in SUFFIXES:
            out.add(w + s)
            out.add(s + w)
        for y in YEARS:
            out.add(w + y)
    for d in "0123456789":
        for n in range(6, 21):
            out.add(d * n)
    for start in range(10):
        up = "".join(str((start + k) % 10) for k in range(24))
        down = "".join(str((start - k) % 10) for k in range(24))
        for n in range(6, 21):
            out.add(up[:n])
            out.add(down[:n])
    for row in ROWS:
        for n in range(6, len(row) + 1):
            out.add(row[:n])
            out.add(row[:n] * 2)
    for n in NUMBERS:
        for s in ["", "!", ".", "a", "@"]:
            out.add(n + s)
    words = sorted(x for x in out if len(x) >= 4)
    sys.stdout.write("".join(w + "\n" for w in words))


if __name__ == "__main__":
    main()
