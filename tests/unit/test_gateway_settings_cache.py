"""The generation table that keeps gateway workers' bucket-setting caches in step."""

from __future__ import annotations

import asyncio
import os

from gateway.settings_cache import SettingCache, SettingGenerations


def test_a_bump_in_one_workers_row_changes_the_generation_every_worker_reads():
    fd = SettingGenerations.create_shared(3)
    try:
        rows = [SettingGenerations.attach(fd, 3, i) for i in range(3)]
        before = [r.generation("web") for r in rows]
        rows[2].bump("web")
        rows[0].bump("web")
        assert [r.generation("web") for r in rows] == [before[0] + 2] * 3
        assert rows[1].generation("other-bucket") == 0
    finally:
        os.close(fd)


async def test_an_entry_fetched_across_a_siblings_change_is_fetched_again():
    fd = SettingGenerations.create_shared(2)
    try:
        mine, sibling = SettingGenerations.attach(fd, 2, 0), SettingGenerations.attach(fd, 2, 1)
        cache: SettingCache[str] = SettingCache(mine, ttl=60.0)
        theirs: SettingCache[str] = SettingCache(sibling, ttl=60.0)
        stored, fetches = ["old"], []

        async def fetch() -> str:
            fetches.append(1)
            value = stored[0]
            await asyncio.sleep(0)
            if value == "old":  # the sibling's change commits while this read is in flight
                stored[0] = "new"
                theirs.forget("web")
            return value

        assert await cache.get("web", fetch) == "old"
        assert await cache.get("web", fetch) == "new"  # the in-flight answer was not trusted
        assert await cache.get("web", fetch) == "new" and len(fetches) == 2  # and now it is cached
    finally:
        os.close(fd)
