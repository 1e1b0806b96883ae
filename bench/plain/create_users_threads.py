"""Create AINAS users from a CSV file, ten requests at a time.

The same script as create_users_sequential.py with a thread pool of 10 (httpx's client is
thread-safe and keeps a pool of connections): what an IT person writes when one request after
another is too slow.

    python create_users_threads.py https://HOST/api/v1 users.csv
    (environment: AINAS_LOGIN_ID, AINAS_PASSWORD, CLIENT_PEM, CA_PEM)
"""

import csv
import os
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx

url, csv_file = sys.argv[1], sys.argv[2]
# mutual TLS as httpx documents it: the client certificate (converted to PEM) in an SSLContext
tls = ssl.create_default_context(cafile=os.environ["CA_PEM"])
tls.load_cert_chain(os.environ["CLIENT_PEM"])
client = httpx.Client(base_url=url, verify=tls, timeout=30)
login = client.post(
    "/session",
    json={"login_id": os.environ["AINAS_LOGIN_ID"], "password": os.environ["AINAS_PASSWORD"]},
)
login.raise_for_status()
client.headers["Authorization"] = "Bearer " + login.json()["token"]

sites = {s["fields"]["site_name"]: s["site_id"] for s in client.get("/sites").json()["items"]}


def create(row):
    response = client.post(
        "/users",
        json={
            "login_id": row["login_id"],
            "user_name": row["name"],
            "role": row["role"],
            "site": sites[row["site"]],
            "password": row["password"],
        },
    )
    if response.status_code not in (201, 409):
        print(row["login_id"], response.status_code, response.text)
    return response.status_code


with open(csv_file, encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
with ThreadPoolExecutor(max_workers=10) as pool:
    codes = list(pool.map(create, rows))
print(
    f"created {codes.count(201)}, already there {codes.count(409)}, failed "
    f"{len(codes) - codes.count(201) - codes.count(409)}"
)
