"""`use_primary()`: one instance may be shared, by nested blocks and by threads."""

import threading

import pytest

from routers import use_primary
from routers.context import primary_forced

force = use_primary()  # module level, as a project would write it


def test_it_lets_two_threads_share_one_instance():
    both_inside = threading.Barrier(2)
    first_left = threading.Event()
    seen = {}

    def worker(name):
        try:
            with force:
                both_inside.wait(timeout=5)
                if name == "second":
                    first_left.wait(timeout=5)  # the first thread leaves first
                seen[f"{name} inside"] = primary_forced()
            seen[f"{name} after"] = primary_forced()
        except Exception as error:  # a failure in a thread would go unseen otherwise
            seen[f"{name} error"] = repr(error)
        finally:
            if name == "first":
                first_left.set()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert seen == {
        "first inside": True,
        "first after": False,
        "second inside": True,
        "second after": False,
    }


def test_it_keeps_an_outer_block_in_force_when_the_same_instance_nests():
    with force:
        with force:
            assert primary_forced()
        assert primary_forced()
    assert not primary_forced()


def test_it_refuses_to_decorate_a_generator_function():
    # The call returns the generator before its body runs: the decorator would force nothing.
    with pytest.raises(TypeError, match="generator function"):

        @use_primary()
        def rows():
            yield 1

    with pytest.raises(TypeError, match="generator function"):

        @use_primary()
        async def chunks():
            yield 1
