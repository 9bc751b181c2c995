"""Census candidates and value assessment from stored listings, on both databases."""
from __future__ import annotations

from xjip.gi.census import candidates, value_assessment
from xjip.gi.clues import import_listings
from xjip.gi.listings import read_listings

ROWS = [
    ("1", "且末红枣 特级 5斤", "且末枣园", "新疆巴州且末县", "45"),
    ("2", "新疆且末红枣 3斤", "枣乡人家", "新疆 且末", "39"),
    ("3", "且末红枣 灰枣 2斤", "且末枣园", "新疆巴州且末县", "29"),
    ("4", "若羌红枣 5斤", "若羌枣园", "新疆 若羌", "60"),
    ("5", "若羌红枣 3斤", "若羌枣园", "新疆 若羌", "50"),
    ("6", "若羌红枣 2斤", "若羌枣园", "新疆巴州若羌县", "40"),
    ("7", "新疆红枣 5斤", "批发", "河北 沧州", "30"),
    ("8", "新疆红枣 3斤", "批发", "河北 沧州", "25"),
    ("9", "红枣 2斤", "批发", "河南 郑州", "20"),
    ("10", "若羌红枣 5斤", "批发", "河南 郑州", "35"),
    ("11", "库车红枣 一次 出现", "店", "新疆 库车", "10"),
]


def test_candidates_and_value(store, gi_loaded) -> None:  # noqa: ANN001
    text = "listing_id,title,shop,seller_location,price\n" + "\n".join(",".join(r) for r in ROWS) + "\n"
    with store.session() as s:
        import_listings(s, read_listings("c.csv", text.encode()), "census", "staff1")
    with store.reading() as s:
        found = {c["name"]: c for c in candidates(s)["items"]}
        value = {v["name"]: v for v in value_assessment(s)}
    assert found["且末红枣"]["seen"] == 3 and found["且末红枣"]["shops"] == 2
    assert found["且末红枣"]["place_code"] == "652825" and "若羌红枣" in found["且末红枣"]["protected_elsewhere"]
    assert "若羌红枣" not in found  # protected
    assert "库车红枣" not in found  # seen once: below the threshold
    ruoqiang = value["若羌红枣"]
    assert ruoqiang["listings"] == 4 and ruoqiang["provinces"] == 2
    assert ruoqiang["prices_inside"] == 3 and ruoqiang["price_inside_median"] == 50
    # plain: 新疆红枣 30, 25; 红枣 20; 库车红枣 10; 且末红枣 45, 39, 29 (no protected name either)
    assert ruoqiang["prices_plain"] == 7 and ruoqiang["price_plain_median"] == 29
    assert ruoqiang["price_premium"] == round(50 / 29 - 1, 3)
    assert value["库尔勒香梨"]["price_premium"] is None and value["库尔勒香梨"]["listings"] == 0
