"""Shows CREATE INDEX progress: a thread with its own connection polls
pg_stat_progress_create_index for the building backend and reports each
change of phase, and the tuple counts within a phase every few seconds."""

import threading
import time

import psycopg2

QUERY = """SELECT phase, tuples_done, tuples_total, blocks_done, blocks_total
           FROM pg_stat_progress_create_index WHERE pid = %s"""


class ProgressPoller(threading.Thread):
    """Polls while the build runs; stop() ends it and returns the phases seen."""

    def __init__(self, connect, pid, log, interval=0.25, every=2.0):
        super().__init__(daemon=True)
        self._connect = connect
        self._pid = pid
        self._log = log
        self._interval = interval
        self._every = every
        self._stop_event = threading.Event()
        self.phases = []
        self.error = None

    # One line for a progress row: phase, then tuples (or blocks) done of total.
    @staticmethod
    def describe(row):
        phase, tdone, ttotal, bdone, btotal = row
        if ttotal:
            return "%-40s tuples %9d / %d" % (phase, tdone, ttotal)
        if tdone:
            return "%-40s tuples %9d" % (phase, tdone)
        if btotal:
            return "%-40s blocks %9d / %d" % (phase, bdone, btotal)
        return phase

    def run(self):
        try:
            conn = self._connect()
            conn.autocommit = True
        except psycopg2.Error as e:
            self.error = str(e)
            return
        t0 = time.time()
        last_phase, last_print = None, 0.0
        try:
            with conn.cursor() as cur:
                while not self._stop_event.is_set():
                    cur.execute(QUERY, (self._pid,))
                    row = cur.fetchone()
                    now = time.time()
                    if row:
                        if row[0] != last_phase or now - last_print >= self._every:
                            if row[0] != last_phase:
                                self.phases.append(row[0])
                            self._log("  [%6.1f s] %s" % (now - t0, self.describe(row)))
                            last_phase, last_print = row[0], now
                    self._stop_event.wait(self._interval)
        except psycopg2.Error as e:
            self.error = str(e)
        finally:
            conn.close()

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)
        return self.phases
