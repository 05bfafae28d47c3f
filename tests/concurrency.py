"""Real concurrent transactions in tests (PostgreSQL): calls released together from threads."""

import threading

from django.db import connection


def race(*calls):
    """Run the calls in threads released together; return what each returned or raised, in order.

    Each thread has its own database connection (Django's are per thread) and closes it when done."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
