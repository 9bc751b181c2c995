"""Builds tests/gi/data/listings_labelled.csv: listings written by us to look like a platform's
search export (titles in the style of Taobao/JD product titles), each labelled by hand-written rule
with the clue rules a reviewer expects. Every row is marked synthetic. Run it to rebuild the file
(deterministic): `.venv/bin/python tests/gi/make_labelled.py`.

Groups: clear_legit, clear_infringing, tricky_legit, tricky_infringing. The names are real GIs
(gi/xinjiang_gi_records.csv), the places real units (regions/), the seller locations the way
platforms print them ("新疆 巴音郭楞" / "河北 石家庄")."""
from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).parent / "data" / "listings_labelled.csv"
rng = random.Random(13)

# name → (inside locations, outside locations in Xinjiang, outside locations elsewhere, product word)
GIS = {
    "库尔勒香梨": (["新疆 巴音郭楞", "新疆库尔勒市", "新疆 库尔勒", "新疆阿克苏地区阿克苏市", "新疆 阿拉尔", "新疆巴州轮台县"],
               ["新疆 乌鲁木齐", "新疆 哈密"], ["河北 石家庄", "山东 烟台", "安徽 宿州", "甘肃 兰州", "河北 沧州"], "香梨"),
    "阿克苏苹果": (["新疆 阿克苏", "新疆阿克苏地区温宿县", "新疆 阿克苏地区阿瓦提县"], ["新疆 喀什", "新疆 乌鲁木齐"],
               ["陕西 延安", "山东 烟台", "甘肃 天水", "辽宁 大连"], "苹果"),
    "吐鲁番葡萄干": (["新疆 吐鲁番", "新疆吐鲁番市高昌区", "新疆 吐鲁番 鄯善县"], ["新疆 昌吉", "新疆 乌鲁木齐"],
                ["浙江 金华", "河北 保定", "广东 广州"], "葡萄干"),
    "精河枸杞": (["新疆博州精河县", "新疆 精河"], ["新疆 乌鲁木齐"], ["宁夏 中卫", "青海 海西", "甘肃 酒泉"], "枸杞"),
    "若羌红枣": (["新疆 若羌", "新疆巴州若羌县"], ["新疆 阿克苏"], ["河南 郑州", "河北 沧州", "山东 滨州"], "红枣"),
    "和田大枣": (["新疆 和田", "新疆和田地区于田县", "新疆 和田 墨玉县"], ["新疆 喀什"], ["河南 郑州", "山东 德州"], "大枣"),
    "温宿大米": (["新疆阿克苏地区温宿县", "新疆 温宿"], ["新疆 乌鲁木齐"], ["黑龙江 哈尔滨", "江苏 苏州"], "大米"),
    "奇台面粉": (["新疆 昌吉 奇台县", "新疆奇台"], ["新疆 乌鲁木齐"], ["河南 周口", "山东 菏泽"], "面粉"),
    "阿勒泰羊": (["新疆 阿勒泰", "新疆阿勒泰地区福海县"], ["新疆 乌鲁木齐"], ["内蒙古 呼和浩特", "北京"], "羊"),
    "察布查尔大米": (["新疆 伊犁 察布查尔县", "新疆察布查尔"], ["新疆 昌吉"], ["黑龙江 五常", "吉林 长春"], "大米"),
    "伽师瓜": (["新疆 喀什 伽师县", "新疆伽师"], ["新疆 乌鲁木齐"], ["海南 三亚", "上海"], "瓜"),
    "库车小白杏": (["新疆 库车", "新疆阿克苏地区库车市"], ["新疆 乌鲁木齐"], ["河北 张家口", "陕西 咸阳"], "小白杏"),
}
SUFFIX = ["新鲜 5斤装", "特级 礼盒装", "产地直发 包邮", "当季 新货", "正宗 一级果", "10斤 整箱", "500g 袋装", "精选 大果",
          "农家自产", "包邮到家", "送礼佳品", "现货速发"]
PREFIX = ["新疆", "正宗", "【顺丰包邮】", "2025新货", "原产地", "", "", ""]
SHOPS_IN = ["{p}果业旗舰店", "{p}农产品专营店", "{p}特产店", "{p}源头果园", "{p}合作社直营"]
SHOPS_OUT = ["鲜果汇", "好味道生鲜", "果然鲜旗舰店", "优选果园", "万家生鲜", "特产集市", "农品优选", "甜蜜果坊"]
FRESH_MONTH = {"库车小白杏": 6, "伽师瓜": 8}


def price() -> str:
    return f"{rng.choice([19.9, 29.9, 39.8, 45, 59, 68, 88, 99, 128, 168]):.2f}"


def date(month: int | None = None) -> str:
    m = month or rng.choice([6, 7, 8, 9, 10, 11])
    return f"2025-{m:02d}-{rng.randint(1, 28):02d}"


rows: list[dict[str, str]] = []


def add(group: str, title: str, shop: str, loc: str, rules: list[str], gi: str, note: str, listed: str | None = None,
        p: str | None = None) -> None:
    rows.append({"listing_id": f"L{len(rows) + 1:04d}", "title": title, "shop": shop, "seller_location": loc,
                 "price": p or price(), "listed_at": listed or date(FRESH_MONTH.get(gi)), "url": "",
                 "group": group, "expected_rules": ";".join(sorted(rules)), "expected_gi": gi if rules else "",
                 "note": note, "synthetic": "1"})


def title_for(name: str) -> str:
    return f"{rng.choice(PREFIX)}{name} {rng.choice(SUFFIX)}".strip()


place_of = {"库尔勒香梨": "库尔勒", "阿克苏苹果": "阿克苏", "吐鲁番葡萄干": "吐鲁番", "精河枸杞": "精河", "若羌红枣": "若羌",
            "和田大枣": "和田", "温宿大米": "温宿", "奇台面粉": "奇台", "阿勒泰羊": "阿勒泰", "察布查尔大米": "察布查尔",
            "伽师瓜": "伽师", "库车小白杏": "库车"}

# clear legit: the name by sellers in the protected area
for _ in range(90):
    name = rng.choice(list(GIS))
    inside = GIS[name][0]
    add("clear_legit", title_for(name), rng.choice(SHOPS_IN).format(p=place_of[name]), rng.choice(inside), [], name,
        "seller inside the protected area")
# clear legit: products with no GI name, anywhere
GENERIC = ["新疆红枣 特级 骏枣 5斤", "新疆葡萄干 无核 500g", "新疆核桃 薄皮 2斤", "砀山酥梨 新鲜 10斤", "烟台红富士苹果 5斤",
           "宁夏枸杞 特级 500g", "五常大米 10kg", "新疆大枣 一级 2斤", "新疆巴旦木 奶香 500g", "新疆无花果干 250g",
           "灰枣 新疆 3斤", "新疆黑加仑葡萄干 1斤", "东北大米 珍珠米 5kg", "新疆羊肉 羊排 2斤", "甘肃天水花牛苹果 5斤"]
for _ in range(45):
    add("clear_legit", rng.choice(GENERIC), rng.choice(SHOPS_OUT), rng.choice(["河北 石家庄", "山东 烟台", "浙江 杭州",
                                                                               "新疆 乌鲁木齐", "广东 广州"]), [], "",
        "no protected name")
# clear infringing: the name by sellers in another province
for _ in range(80):
    name = rng.choice(list(GIS))
    add("clear_infringing", title_for(name), rng.choice(SHOPS_OUT), rng.choice(GIS[name][2]), ["outside_area"], name,
        "seller in another province")

# tricky legit
for _ in range(8):
    add("tricky_legit", title_for("库尔勒香梨"), "梨城果业上海直营店", rng.choice(["上海", "上海 浦东新区"]), [], "库尔勒香梨",
        "authorised distributor (whitelisted) outside the area")
for _ in range(8):
    name = rng.choice(["库尔勒香梨", "阿克苏苹果", "吐鲁番葡萄干", "精河枸杞"])
    add("tricky_legit", f"{name}树苗 嫁接苗 当年结果", "绿源苗木基地", rng.choice(["山东 泰安", "河北 邢台"]), [], name,
        "saplings: the name is the variety")
for _ in range(6):
    add("tricky_legit", rng.choice(["哈密瓜 新鲜 海南 5斤", "网纹哈密瓜 2个装", "哈密瓜味 酸奶 12盒", "哈密瓜 西州蜜 现摘"]),
        rng.choice(SHOPS_OUT), rng.choice(["海南 三亚", "浙江 杭州", "广东 广州"]), [], "哈密瓜",
        "哈密瓜 used as the common name of the melon (setting generic_names)")
for _ in range(8):
    add("tricky_legit", title_for("库尔勒香梨"), "梨城鲜果", rng.choice(["新疆 阿拉尔", "新疆阿克苏地区阿克苏市", "新疆巴州轮台县"]),
        [], "库尔勒香梨", "seller outside Korla but inside the GI-product area (阿克苏 counties, 阿拉尔)")
for _ in range(6):
    name = rng.choice(["库尔勒香梨", "吐鲁番葡萄干", "阿克苏苹果"])
    add("tricky_legit", title_for(name), rng.choice(SHOPS_OUT), rng.choice(["新疆", "", "新疆维吾尔自治区", "中国"]), [], name,
        "seller location too vague or missing: not said to be outside")
for _ in range(5):
    add("tricky_legit", f"庫爾勒香梨 {rng.choice(SUFFIX)}", "库尔勒香梨合作社", "新疆 库尔勒", [], "库尔勒香梨",
        "traditional characters by a seller in the area")
for _ in range(5):
    add("tricky_legit", f"Korla Fragrant Pear 库尔勒香梨 出口级", "库尔勒果业进出口", "新疆 巴音郭楞", [], "库尔勒香梨",
        "English name by a seller in the area")
for _ in range(5):
    add("tricky_legit", f"和田玉枣 {rng.choice(SUFFIX)}", "和田枣业", rng.choice(["新疆 和田", "新疆和田地区和田县"]), [], "和田玉枣",
        "another GI one character from 和田大枣: not a near miss")
for _ in range(5):
    add("tricky_legit", f"吐鲁番葡萄干 {rng.choice(SUFFIX)}", "吐鲁番特产店", "新疆 吐鲁番", [], "吐鲁番葡萄干",
        "contains 吐鲁番葡萄 (another GI) inside the longer name")
for _ in range(5):
    add("tricky_legit", f"地理标志产品 阿克苏苹果 冰糖心 {rng.choice(SUFFIX)}", "阿克苏红旗坡苹果专营店", "新疆 阿克苏", [],
        "阿克苏苹果", "special mark claimed by a recorded user")
for _ in range(5):
    add("tricky_legit", "新鲜现摘 库车小白杏 3斤", "库车杏农合作社", "新疆 库车", [], "库车小白杏", "fresh apricots in season",
        listed=f"2025-06-{rng.randint(1, 28):02d}")
for _ in range(4):
    add("tricky_legit", "库车小白杏干 无核 500g", "库车杏农合作社", "新疆 库车", [], "库车小白杏",
        "dried apricots off season: not fresh", listed=f"2025-01-{rng.randint(1, 28):02d}")
for _ in range(4):
    add("tricky_legit", "<b>新疆 库尔勒香梨</b> 🍐🍐 新鲜 &amp; 脆甜", "库尔勒梨园", "新疆 库尔勒", [], "库尔勒香梨",
        "HTML and emoji, seller in the area")

# tricky infringing
for _ in range(8):
    name = rng.choice(["库尔勒香梨", "阿克苏苹果", "吐鲁番葡萄干"])
    add("tricky_infringing", title_for(name), rng.choice(SHOPS_OUT), rng.choice(GIS[name][1]), ["outside_area"], name,
        "seller in Xinjiang but outside the protected area")
for name, trad in [("库尔勒香梨", "庫爾勒香梨"), ("吐鲁番葡萄干", "吐魯番葡萄乾"), ("阿克苏苹果", "阿克蘇蘋果"), ("精河枸杞", "精河枸杞")]:
    if trad == name:
        continue
    for _ in range(4):
        add("tricky_infringing", f"{trad} {rng.choice(SUFFIX)}", rng.choice(SHOPS_OUT), rng.choice(GIS[name][2]),
            ["traditional_variant"], name, "traditional characters by a seller outside the area")
for text, name in [("Kuerle Xiangli 香梨 新鲜", "库尔勒香梨"), ("Korla Fragrant Pear 进口级 香梨", "库尔勒香梨"),
                   ("Turpan Raisin 葡萄干 500g", "吐鲁番葡萄干"), ("Jinghe Goji Berry 枸杞 特级", "精河枸杞"),
                   ("AKESU PINGGUO 苹果 冰糖心", "阿克苏苹果")]:
    for _ in range(3):
        add("tricky_infringing", text, rng.choice(SHOPS_OUT), rng.choice(GIS[name][2]), ["pinyin_variant"], name,
            "pinyin or English name by a seller outside the area")
for text, name in [("库尔乐香梨 新鲜 5斤", "库尔勒香梨"), ("酷尔勒香梨 脆甜", "库尔勒香梨"), ("吐鲁潘葡萄干 500g", "吐鲁番葡萄干"),
                   ("阿克速苹果 冰糖心", "阿克苏苹果"), ("若强红枣 特级", "若羌红枣"), ("精河拘杞 特级", "精河枸杞"),
                   ("库儿勒香梨 新货", "库尔勒香梨"), ("和阗大枣 特级", "和田大枣")]:
    for _ in range(3):
        add("tricky_infringing", text, rng.choice(SHOPS_OUT), rng.choice(GIS[name][2]), ["near_miss"], name,
            "near-miss spelling by a seller outside the area")
for text, name in [("库尔勒香梨同款 砀山梨 10斤", "库尔勒香梨"), ("库尔勒香梨风味 酥梨 新鲜", "库尔勒香梨"),
                   ("阿克苏苹果型 冰糖心 红富士", "阿克苏苹果"), ("仿若羌红枣 大枣 5斤", "若羌红枣"),
                   ("吐鲁番葡萄干口味 葡萄干 散装", "吐鲁番葡萄干")]:
    for _ in range(3):
        add("tricky_infringing", text, rng.choice(SHOPS_OUT), rng.choice(GIS[name][2] + GIS[name][0]),
            ["misleading_qualifier"], name, "qualifier that says the goods are only like the GI")
for text, name, loc in [("新疆哈密瓜 河南产 甜瓜 2个", "哈密瓜", "新疆 乌鲁木齐"), ("阿克苏苹果 产地陕西 冰糖心", "阿克苏苹果", "新疆 阿克苏"),
                        ("若羌红枣 河北沧州产 5斤", "若羌红枣", "河北 沧州"), ("库尔勒香梨 产自河北 酥脆", "库尔勒香梨", "新疆 库尔勒")]:
    for _ in range(3):
        add("tricky_infringing", text, rng.choice(SHOPS_OUT), loc, ["misleading_qualifier"], name,
            "the title names another origin")
for _ in range(4):
    add("tricky_infringing", "新疆哈密瓜 新鲜 5斤", rng.choice(SHOPS_OUT), rng.choice(["海南 三亚", "浙江 杭州"]), ["outside_area"],
        "哈密瓜", "哈密瓜 with an origin claim (新疆) from another province")
for shop, text, name in [("库尔勒果园", "新疆香梨 脆甜 5斤", "库尔勒香梨"), ("吐鲁番果坊", "新疆葡萄干 无核 1斤", "吐鲁番葡萄干"),
                         ("若羌枣业", "新疆红枣 特级 3斤", "若羌红枣")]:
    for _ in range(3):
        add("tricky_infringing", text, shop, rng.choice(GIS[name][2]), ["place_wordplay"], name,
            "shop name built on the GI's place, seller outside the area")
for text, name in [("库尔勒 精选 香梨 10斤", "库尔勒香梨"), ("阿克苏 冰糖心 苹果 5斤", "阿克苏苹果"), ("精河 头茬 枸杞 500g", "精河枸杞")]:
    for _ in range(3):
        add("tricky_infringing", text, rng.choice(SHOPS_OUT), rng.choice(GIS[name][2]), ["place_wordplay"], name,
            "GI split by filler words, seller outside the area")
for _ in range(6):
    add("tricky_infringing", f"地理标志专用标志 阿克苏苹果 {rng.choice(SUFFIX)}", "冰糖心果园", "新疆 阿克苏", ["mark_non_user"],
        "阿克苏苹果", "special mark claimed by a shop that is not a recorded user")
for _ in range(6):
    add("tricky_infringing", "新鲜现摘 库车小白杏 3斤", "库车杏农合作社", "新疆 库车", ["off_season"], "库车小白杏",
        "fresh apricots listed in winter", listed=f"2025-{rng.choice([1, 2, 12]):02d}-{rng.randint(1, 28):02d}")
for _ in range(4):
    add("tricky_infringing", "<div>库尔勒香梨</div> 🍐 &nbsp;特价", rng.choice(SHOPS_OUT), "河北 石家庄", ["outside_area"],
        "库尔勒香梨", "HTML and emoji, seller in another province")

OUT.parent.mkdir(parents=True, exist_ok=True)
with open(OUT, "w", encoding="utf-8", newline="") as fh:
    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print(len(rows), "rows ->", OUT)
