"""The GIL is released during long engine calls: a second Python thread makes progress while a large
backward pass runs."""
import threading

import pianograd as pg


def test_second_thread_progresses_during_backward():
    prev_threads = pg.num_threads()
    pg.set_num_threads(1)  # leave CPU for the counting thread on small machines
    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    th = threading.Thread(target=count)
    th.start()
    try:
        while counter[0] == 0:
            pass
        x = pg.randn([1 << 20], requires_grad=True)
        progressed = False
        for _ in range(5):  # a few tries: the OS may not schedule the counter during one pass
            y = x
            for _ in range(20):
                y = pg.tanh(y) * 1.0001
            loss = y.sum()
            before = counter[0]
            loss.backward()  # runs in C++ with the GIL released
            if counter[0] > before:
                progressed = True
                break
        assert progressed, "no Python bytecode ran in the other thread during backward()"
        assert x.grad.shape == x.shape
    finally:
        stop.set()
        th.join()
        pg.set_num_threads(prev_threads)


def test_concurrent_backward_calls_are_serialised():
    xs = [pg.randn([1000], requires_grad=True) for _ in range(4)]
    errors = []

    def work(x):
        try:
            for _ in range(5):
                (pg.exp(x) * x).sum().backward()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(x,)) for x in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for x in xs:
        assert x.grad is not None
