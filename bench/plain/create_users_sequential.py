"""Create AINAS users from a CSV file, one request after another.

The script an IT person would write against the AINAS API without this tool: log in, look up
the site by name, POST every row. Run again, it posts every row again (the server answers 409
for those that exist, and the script says so and goes on).

    python create_users_sequential.py https://HOST/api/v1 users.csv
    (environment: AINAS_LOGIN_ID, AINAS_PASSWORD, CLIENT_PEM, CA_PEM)
"""

import csv
import os
import ssl
import sys

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

created = existed = failed = 0
with open(csv_file, encoding="utf-8") as f:
    for row in csv.DictReader(f):
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
        if response.status_code == 201:
            created += 1
        elif response.status_code == 409:
            existed += 1
        else:
            failed += 1
            print(row["login_id"], response.status_code, response.text)
print(f"created {created}, already there {existed}, failed {failed}")
