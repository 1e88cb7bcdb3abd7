"""The reads `ouguard plan` makes, done the plain way with Okta's official Python SDK
(`pip install okta`), one after another: list the AD apps; for each, list its group
assignments (expand=group, every page), list its mappings by targetId and get each one;
list the user types. For `examples/bench_org.rs --python-sdk`, which runs it against the
same simulated org.

Configuration is the SDK's own: OKTA_CLIENT_ORGURL, OKTA_CLIENT_TOKEN (SSWS), and
OKTA_TESTING_TESTINGDISABLEHTTPSCHECK=true for an http://127.0.0.1 org.
Prints `reads_s=… requests=… assignments=… mappings=… peak_rss_mb=…` on one line.
"""

import asyncio
import resource
import time

from okta.client import Client as OktaClient
from okta.pagination import PaginationHelper


async def all_pages(call, *args, **kwargs):
    """Every page of a list: the SDK's own `after` cursor from the `Link: rel="next"` header."""
    items, requests, after = [], 0, None
    while True:
        if after is not None:
            kwargs["after"] = after
        page, resp, err = await call(*args, **kwargs)
        requests += 1
        if err:
            raise RuntimeError(err)
        items.extend(page or [])
        after = PaginationHelper.extract_next_cursor(dict(resp.headers or {}))
        if after is None:
            return items, requests


async def main():
    client = OktaClient({})
    started = time.monotonic()
    apps, requests = await all_pages(
        client.list_applications, filter='name eq "active_directory"', limit=200
    )
    assignments = 0
    mappings = 0
    for app in apps:
        groups, n = await all_pages(
            client.list_application_group_assignments, app.id, expand="group", limit=200
        )
        requests += n
        assignments += len(groups)
        listed, n = await all_pages(client.list_profile_mappings, target_id=app.id, limit=200)
        requests += n
        for mapping in listed:
            full, _, err = await client.get_profile_mapping(mapping.id)
            if err:
                raise RuntimeError(err)
            requests += 1
            mappings += 1
    _types, _, err = await client.list_user_types()
    if err:
        raise RuntimeError(err)
    requests += 1
    elapsed = time.monotonic() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"reads_s={elapsed:.3f} requests={requests} assignments={assignments} "
        f"mappings={mappings} peak_rss_mb={peak_kb / 1024:.1f}"
    )


asyncio.run(main())
