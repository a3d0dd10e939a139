"""Native unit tests of the guide's counter source (``guest-sdk/python/test.sh
tests/polyglot-guests/py-counter-source``): where it starts, from the fake host's committed
offset, and where it stops."""

import unittest

import fakehost
import wasm_connect as wc

from app import CounterSource, CounterTask


class CounterTest(unittest.TestCase):
    def setUp(self):
        self.host = fakehost.install()

    def task(self, **settings):
        task = CounterTask()
        task.context = wc.SourceTaskContext()
        task.start(wc.Config({"name": "c", "topic": "numbers", **settings}))
        return task

    def test_a_new_counter_starts_at_zero(self):
        records = self.task(**{"batch.size": "3"}).poll()
        self.assertEqual([r.value.get("seq") for r in records], [0, 1, 2])
        self.assertEqual(records[0].source_offset, {"seq": 0})
        self.assertIn(("info", "counting from 0"), self.host.logs)

    def test_it_resumes_after_the_committed_offset(self):
        self.host.set_offset({"counter": "c"}, {"seq": 41})
        records = self.task(**{"batch.size": "2"}).poll()
        self.assertEqual([r.value.get("seq") for r in records], [42, 43])

    def test_it_stops_at_count_in_total(self):
        self.host.set_offset({"counter": "c"}, {"seq": 8})
        task = self.task(count="10", **{"batch.size": "5"})
        self.assertEqual([r.key for r in task.poll()], ["9"])
        self.assertEqual(self.host.poll_again_after, [])
        self.assertEqual(task.poll(), [])
        # Done: the host need not poll it again.
        self.assertEqual(self.host.poll_again_after, [2**64 - 1])

    def test_validation_names_the_missing_topic(self):
        values = {v.name: v for v in CounterSource().validate(wc.Config({}))}
        self.assertTrue(values["topic"].errors, values["topic"])


if __name__ == "__main__":
    unittest.main()
