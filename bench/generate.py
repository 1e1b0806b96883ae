"""Generate large manifest directories for the benchmarks: N sites, M users."""

from __future__ import annotations

import argparse
from pathlib import Path

KANJI = "東西南北中央本新旧上下大小山川田村林森橋港町駅前"
KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノ"
PREFS = ["東京都", "神奈川県", "千葉県", "埼玉県", "大阪府", "愛知県"]


def fullwidth_number(n: int) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in str(n))


def site_name(i: int) -> str:
    return f"{KANJI[i % len(KANJI)]}{KANJI[(i // 7) % len(KANJI)]}営業所{fullwidth_number(i)}"


def site_yaml(i: int) -> str:
    handle = f"site{i:04d}"
    env = f"SITE{i:04d}"
    return f"""version: 1
sites:
  {handle}:
    name: {site_name(i)}
    short_name: {KANJI[i % len(KANJI)]}営業所{fullwidth_number(i)}
    code: S{i:05d}
    registered:
      certificate_manager_name: 利活用　{KANJI[i % len(KANJI)]}郎
      review_deadline: "16:00"
      commission_number: "{1000000000 + i}"
      inspection_ecert_update: 運輸支局等
      interim_ecert_update: 運輸支局等
      batch_account:
        payment_user_id: "{20000000 + i}"
        batch_user_id: AB{i:06d}
        batch_password: {{env: BENCH_BATCH_PASSWORD}}
        arrival_number_password: {{env: BENCH_ARRIVAL_PASSWORD}}
        payment_method_national: ダイレクト納付(国庫金限定)
        payment_method_prefectural: ダイレクト納付
        email: site{i}@example.jp
        contact_name: 担当 {KANA[i % len(KANA)]}
        phone: 03-{1000 + i % 9000:04d}-{i % 10000:04d}
    kei:
      certificate_manager_name: 利活用　{KANJI[i % len(KANJI)]}郎
      certificate_manager_number: "{100000000 + i}"
      review_deadline: "15:30"
      client_receipt_selectable: false
      inspection_ecert_update: 軽検協事務所等
      batch_account:
        payment_user_id: KN{i:06d}
        batch_user_id: KI{i:06d}
        batch_password: {{env: BENCH_KEI_BATCH_PASSWORD}}
        arrival_number_password: {{env: BENCH_KEI_ARRIVAL_PASSWORD}}
        payment_method_fees: ダイレクト納付(国庫金限定)
        payment_method_kei_tax: ダイレクト納付
        phone: 03-5357-{i % 10000:04d}
"""
    del env


def users_yaml(start: int, count: int, sites: int) -> str:
    lines = ["version: 1", "users:"]
    for u in range(start, start + count):
        site = u % sites
        lines.append(f"  user{u:05d}:")
        lines.append(f"    name: 利用者 {KANA[u % len(KANA)]}{KANA[(u // 25) % len(KANA)]}")
        if u % 20 == 0:
            lines.append("    role: 拠点管理者")
        else:
            lines.append("    role: 担当者(送信可)" if u % 3 else "    role: 担当者(送信不可)")
            lines.append(f"    default_destination: [{PREFS[u % len(PREFS)]}, 練馬]")
        lines.append(f"    site: site{site:04d}")
        lines.append("    initial_password: {env: BENCH_USER_PASSWORD}")
    return "\n".join(lines) + "\n"


ORGANIZATION = """version: 1
organization:
  id: "9001"
  name: ベンチ代理人
  short_name: ベンチ
policy:
  max_deletes: 100000
"""

ENV = {
    "BENCH_BATCH_PASSWORD": "Batch-Pass-1",
    "BENCH_ARRIVAL_PASSWORD": "Arrival-Pass-1",
    "BENCH_KEI_BATCH_PASSWORD": "KeiBatch-Pass-1",
    "BENCH_KEI_ARRIVAL_PASSWORD": "KeiArrival-Pass-1",
    "BENCH_USER_PASSWORD": "User-Pass-01",
}


def generate(root: Path, sites: int, users: int, users_per_file: int = 1000) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "organization.yaml").write_text(ORGANIZATION, encoding="utf-8")
    site_dir = root / "sites"
    site_dir.mkdir(exist_ok=True)
    for i in range(sites):
        (site_dir / f"site{i:04d}.yaml").write_text(site_yaml(i), encoding="utf-8")
    user_dir = root / "users"
    user_dir.mkdir(exist_ok=True)
    for start in range(0, users, users_per_file):
        count = min(users_per_file, users - start)
        (user_dir / f"users{start:05d}.yaml").write_text(
            users_yaml(start, count, sites), encoding="utf-8"
        )
    return root


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20000)
    args = parser.parse_args()
    generate(args.out, args.sites, args.users)
    print(f"wrote {args.sites} sites and {args.users} users to {args.out}")
