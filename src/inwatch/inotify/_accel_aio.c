/* aio_feed: the C twin of the async generator behind ``async for ev in watcher``
 * (inwatch.watcher.Watcher._aiter), for its per-event step only.
 *
 * An async generator costs every event an asend object, a resumed frame and
 * a StopIteration carrying the event (~0.1 µs, bench/burst.py's async peer).
 * A feed is an async iterator whose __anext__, while events made already
 * wait in the deque, pops one and returns a Ready: an awaitable that is done
 * at once (am_send answers PYGEN_RETURN with the event: no frame, no
 * exception). When the deque is empty it returns refill(), a coroutine
 * written in Python (Watcher._refill) that does everything else: the
 * checks, processing, waiting on the loop, the end (StopAsyncIteration) and
 * the failures. close() is called once, when the feed is finalized (the
 * `async for` left, as an async generator's `finally` would run).
 *
 * Per event, what is left costs what the interpreter's GET_ANEXT and SEND
 * cost around it (~40 ns, bench/burst.py); two costs of the first version are
 * gone (measured with callgrind, instructions per event of a burst):
 * - the Ready is allocated once and handed out again while nobody else holds
 *   it (the interpreter drops its references once SEND returned: in an
 *   `async for` it is always free again at the next __anext__): no
 *   malloc/free and no new object per event (~60 instructions);
 * - the deque's popleft and length are called as C functions (the bound
 *   built-in method's own function, METH_NOARGS, and the type's length
 *   slot): the same calls the bound method's vectorcall and PyObject_Length
 *   make, without the dispatch layers around them (~60 instructions). A
 *   popleft written in Python (a subclass's) takes the generic path.
 */
#include "_accel.h"

typedef struct {
    PyObject_HEAD
    PyObject *value; /* the event; taken (NULL) by the first send */
} Ready;

typedef struct {
    PyObject_HEAD
    PyObject *out;     /* the collections.deque of events */
    PyObject *popleft; /* out.popleft, bound (the generic path) */
    PyObject *refill;  /* () -> awaitable of the next event */
    PyObject *close;   /* () -> None, once; NULL once called */
    Ready *spare;      /* the Ready handed out last, or NULL */
    /* The fast path: out's type's own popleft (METH_NOARGS) and length
     * slot; NULL: call popleft and PyObject_Length. */
    PyCFunction pop;
    lenfunc len;
} Feed;

/* --- Ready: an awaitable that is done at once ------------------------------- */

static void
ready_dealloc(Ready *self)
{
    Py_XDECREF(self->value);
    PyObject_Free(self);
}

static PyObject *
ready_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

/* The value is handed over (the Ready no longer holds the event: it is
 * kept for the next event, and must not keep this one alive); a Ready sent
 * to twice answers None the second time. */
static PyObject *
ready_take(Ready *r)
{
    PyObject *value = r->value;
    if (value == NULL) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    r->value = NULL;
    return value;
}

static PySendResult
ready_send(PyObject *self, PyObject *Py_UNUSED(arg), PyObject **result)
{
    *result = ready_take((Ready *)self);
    return PYGEN_RETURN;
}

/* The iterator protocol, for the interpreter's paths that do not use
 * am_send (a tracer is set): StopIteration carrying the value. */
static PyObject *
ready_next(PyObject *self)
{
    PyObject *value = ready_take((Ready *)self);
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (stop != NULL) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
    return NULL;
}

static PyObject *
ready_send_method(PyObject *self, PyObject *Py_UNUSED(arg))
{
    return ready_next(self);
}

static PyObject *
ready_throw(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    /* Never suspended, so never thrown into; if it is, raise what came. */
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "throw expected at least 1 argument");
        return NULL;
    }
    PyObject *exc = args[0];
    if (PyExceptionClass_Check(exc))
        PyErr_SetNone(exc);
    else
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    return NULL;
}

static PyObject *
ready_close(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(arg))
{
    Py_RETURN_NONE;
}

static PyMethodDef ready_methods[] = {
    {"send", (PyCFunction)ready_send_method, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))ready_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)ready_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods ready_async = {
    .am_await = ready_await,
    .am_send = ready_send,
};

static PyTypeObject ReadyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "inwatch.inotify._accel.Ready",
    .tp_basicsize = sizeof(Ready),
    .tp_dealloc = (destructor)ready_dealloc,
    .tp_as_async = &ready_async,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_iter = ready_await,
    .tp_iternext = ready_next,
    .tp_methods = ready_methods,
};

/* --- Feed: the async iterator ----------------------------------------------- */

static int
feed_traverse(Feed *self, visitproc visit, void *arg)
{
    Py_VISIT(self->out);
    Py_VISIT(self->popleft);
    Py_VISIT(self->refill);
    Py_VISIT(self->close);
    Py_VISIT(self->spare);
    return 0;
}

static int
feed_clear(Feed *self)
{
    Py_CLEAR(self->out);
    Py_CLEAR(self->popleft);
    Py_CLEAR(self->refill);
    Py_CLEAR(self->close);
    Py_CLEAR(self->spare);
    return 0;
}

static void
feed_finalize(PyObject *obj)
{
    Feed *self = (Feed *)obj;
    PyObject *close = self->close;
    if (close == NULL)
        return;
    self->close = NULL;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *res = PyObject_CallNoArgs(close);
    if (res == NULL)
        PyErr_WriteUnraisable(close);
    else
        Py_DECREF(res);
    Py_DECREF(close);
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static void
feed_dealloc(Feed *self)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    PyObject_GC_UnTrack(self);
    feed_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
feed_aiter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *
feed_anext(PyObject *obj)
{
    Feed *self = (Feed *)obj;
    PyObject *out = self->out;
    if (out == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "this feed is cleared");
        return NULL;
    }
    Py_ssize_t n = self->len != NULL ? self->len(out) : PyObject_Length(out);
    if (n < 0)
        return NULL;
    if (n == 0)
        return PyObject_CallNoArgs(self->refill);
    PyObject *value = self->pop != NULL ? self->pop(out, NULL) : PyObject_CallNoArgs(self->popleft);
    if (value == NULL)
        return NULL;
    Ready *r = self->spare;
    if (r != NULL && Py_REFCNT(r) == 1) {
        /* Nobody but us holds it: the last event's SEND is over. */
        Py_XSETREF(r->value, value);
        Py_INCREF(r);
        return (PyObject *)r;
    }
    r = PyObject_New(Ready, &ReadyType);
    if (r == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    r->value = value;
    Py_INCREF(r);
    Py_XSETREF(self->spare, r);
    return (PyObject *)r;
}

static PyAsyncMethods feed_async = {
    .am_aiter = feed_aiter,
    .am_anext = feed_anext,
};

static PyTypeObject FeedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "inwatch.inotify._accel.Feed",
    .tp_basicsize = sizeof(Feed),
    .tp_dealloc = (destructor)feed_dealloc,
    .tp_as_async = &feed_async,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)feed_traverse,
    .tp_clear = (inquiry)feed_clear,
    .tp_finalize = feed_finalize,
};

const char accel_aio_feed_doc[] =
    "aio_feed(out, refill, close) -> an async iterator over the deque *out*: "
    "pops an event while there is one, else awaits refill(); close() is called "
    "once when it is finalized.";

PyObject *
accel_aio_feed(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    static int ready = 0;
    if (!ready) {
        if (PyType_Ready(&ReadyType) < 0 || PyType_Ready(&FeedType) < 0)
            return NULL;
        ready = 1;
    }
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "aio_feed(out, refill, close): three arguments");
        return NULL;
    }
    if (!PyCallable_Check(args[1]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "aio_feed: refill and close must be callable");
        return NULL;
    }
    PyObject *popleft = PyObject_GetAttrString(args[0], "popleft");
    if (popleft == NULL)
        return NULL;
    Feed *self = PyObject_GC_New(Feed, &FeedType);
    if (self == NULL) {
        Py_DECREF(popleft);
        return NULL;
    }
    Py_INCREF(args[0]);
    self->out = args[0];
    self->popleft = popleft;
    Py_INCREF(args[1]);
    self->refill = args[1];
    Py_INCREF(args[2]);
    self->close = args[2];
    self->spare = NULL;
    self->pop = NULL;
    self->len = NULL;
    /* The fast path: out.popleft is a built-in method bound to out, taking
     * no arguments (collections.deque's, unless a subclass or the instance
     * replaced it): its C function is called as the bound method's
     * vectorcall would call it. The length is the type's own slot, the one
     * PyObject_Length calls first. */
    if (PyCFunction_Check(popleft) && PyCFunction_GET_SELF(popleft) == args[0] &&
        (PyCFunction_GET_FLAGS(popleft) & (METH_VARARGS | METH_KEYWORDS | METH_NOARGS |
                                            METH_O | METH_FASTCALL | METH_METHOD)) ==
            METH_NOARGS) {
        PyTypeObject *type = Py_TYPE(args[0]);
        if (type->tp_as_sequence != NULL && type->tp_as_sequence->sq_length != NULL) {
            self->pop = PyCFunction_GET_FUNCTION(popleft);
            self->len = type->tp_as_sequence->sq_length;
        }
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}
