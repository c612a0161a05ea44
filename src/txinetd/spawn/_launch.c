/* txinetd.spawn._launch: start a server from the daemon without copying it.
 *
 * launch() clones the calling process with CLONE_VM (no CLONE_VFORK): the
 * child shares the daemon's memory, runs on a stack of its own, and makes
 * only raw system calls (no libc function that could touch errno, locks or
 * the daemon's heap) until it executes the server.  The child sets every
 * id, group, limit and the umask on itself; the daemon never changes its
 * own.  The daemon does not wait for the exec: it gets the child's pid at
 * once, and a close-on-exec status pipe tells it later whether the server
 * was executed (end of file) or what failed (one report).  So a child that
 * is stopped after taking the server's uid (by another process of that
 * user) stops nothing but itself.
 *
 * While the child has the server's uid it shares the daemon's memory: the
 * kernel makes that memory non-dumpable when the child's effective ids
 * change (fs.suid_dumpable = 0 or 2), so that no process of that user may
 * ptrace the child or read its memory or descriptors.  The caller must not
 * use this module when fs.suid_dumpable is 1 (see suid_dumpable_safe()).
 *
 * Only x86_64 and aarch64 Linux are supported; elsewhere this module does
 * not build and txinetd uses its fork path instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if !defined(__linux__) || !(defined(__x86_64__) || defined(__aarch64__))
#error "txinetd.spawn._launch supports Linux on x86_64 and aarch64 only"
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One system call, without errno: a negative result is -errno. */
static inline long
raw_syscall(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
#endif
}

#define SYS0(n) raw_syscall((n), 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) raw_syscall((n), (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) raw_syscall((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) raw_syscall((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) raw_syscall((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The steps a child reports a failure of (txinetd.spawn.report names them). */
enum step {
    STEP_SIGACTION = 1,
    STEP_SETSID = 2,
    STEP_DUP2 = 3,
    STEP_CHDIR = 4,
    STEP_SETGROUPS = 5,
    STEP_SETGID = 6,
    STEP_SETRLIMIT = 7,
    STEP_SETUID = 8,
    STEP_EXECVE = 9,
};

#define MAX_SIGNAL 64
#define CHILD_STACK (64 * 1024)

struct limit {
    int resource;
    uint64_t value[2]; /* soft, hard: what prlimit64 takes */
};

/* Everything the child needs, in the region it runs on. */
struct plan {
    const char *path;
    char **argv;
    char **envp;
    int fd;
    int status_fd;
    int max_fd;
    int set_uid, set_gid, set_groups, set_umask, set_nice;
    unsigned int uid, gid;
    int umask;
    int nice;
    int ngroups;
    unsigned int *groups;
    int nlimits;
    struct limit *limits;
};

/* The kernel's struct sigaction, all zero: SIG_DFL, no flags, empty mask
 * (the same layout on x86_64 and aarch64 for these values). */
struct kernel_sigaction {
    unsigned long handler, flags, restorer, mask;
};

static void
report(const struct plan *plan, int step, long error, int detail)
{
    int message[3] = {step, (int)-error, detail};
    SYS3(SYS_write, plan->status_fd, message, sizeof message);
}

static void
close_all_but(const struct plan *plan)
{
    int keep = plan->status_fd;
    if ((keep == 3 || SYS3(SYS_close_range, 3, keep - 1, 0) == 0) &&
        SYS3(SYS_close_range, keep + 1, ~0U, 0) == 0)
        return;
    /* No close_range (Linux < 5.9): every descriptor up to the limit. */
    for (int fd = 3; fd < plan->max_fd; fd++)
        if (fd != keep)
            SYS1(SYS_close, fd);
}

static int
child_main(void *argument)
{
    const struct plan *plan = argument;
    static const struct kernel_sigaction dfl;
    static const uint64_t empty;
    long r;
    int step, detail = 0;

    for (int sig = 1; sig <= MAX_SIGNAL; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        r = SYS4(SYS_rt_sigaction, sig, &dfl, 0, 8);
        if (r < 0) {
            step = STEP_SIGACTION;
            goto fail;
        }
    }
    step = STEP_SETSID;
    if ((r = SYS0(SYS_setsid)) < 0)
        goto fail;
    step = STEP_DUP2;
    for (int target = 0; target < 3; target++)
        if ((r = SYS3(SYS_dup3, plan->fd, target, 0)) < 0)
            goto fail;
    close_all_but(plan);
    step = STEP_CHDIR;
    if ((r = SYS1(SYS_chdir, "/")) < 0)
        goto fail;
    if (plan->set_groups) {
        step = STEP_SETGROUPS;
        if ((r = SYS2(SYS_setgroups, plan->ngroups, plan->groups)) < 0)
            goto fail;
    }
    if (plan->set_gid) {
        step = STEP_SETGID;
        if ((r = SYS3(SYS_setresgid, plan->gid, plan->gid, plan->gid)) < 0)
            goto fail;
    }
    step = STEP_SETRLIMIT;
    for (int i = 0; i < plan->nlimits; i++) {
        detail = plan->limits[i].resource;
        if ((r = SYS4(SYS_prlimit64, 0, detail, plan->limits[i].value, 0)) < 0)
            goto fail;
    }
    detail = 0;
    if (plan->set_umask)
        SYS1(SYS_umask, plan->umask);
    if (plan->set_uid) {
        step = STEP_SETUID;
        if ((r = SYS3(SYS_setresuid, plan->uid, plan->uid, plan->uid)) < 0)
            goto fail;
    }
    if (plan->set_nice) {
        /* As the server's user would: lowering it may be refused. */
        long current = SYS2(SYS_getpriority, PRIO_PROCESS, 0);
        if (current >= 0) {
            long wanted = 20 - current + plan->nice;
            wanted = wanted < -20 ? -20 : wanted > 19 ? 19 : wanted;
            SYS3(SYS_setpriority, PRIO_PROCESS, 0, wanted);
        }
    }
    SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &empty, 0, 8);
    step = STEP_EXECVE;
    r = SYS3(SYS_execve, plan->path, plan->argv, plan->envp);
fail:
    report(plan, step, r, detail);
    SYS1(SYS_exit, 127);
    return 127;
}

/* The memory a child runs on, released once it no longer does. */
struct region {
    void *address;
    size_t size;
};

/* Regions of the usual size that no child runs on any more, kept for the
 * next children: a spawn then costs no mmap, no munmap (whose TLB
 * shootdown reaches every CPU the daemon ran on) and no page faults.  A
 * plan too large for the usual size gets a region of its own, unmapped on
 * release.  The GIL serialises every use. */
#define POOLED_SIZE (CHILD_STACK + 16 * 1024)
#define POOL_MAX 16
static void *pool[POOL_MAX];
static int pooled;

static void *
take_region(size_t size)
{
    if (size == POOLED_SIZE && pooled > 0)
        return pool[--pooled];
    void *address = mmap(NULL, size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return address == MAP_FAILED ? NULL : address;
}

static void
give_back(void *address, size_t size)
{
    if (size == POOLED_SIZE && pooled < POOL_MAX)
        pool[pooled++] = address;
    else
        munmap(address, size);
}

static const char REGION[] = "txinetd.spawn._launch.region";

static void
region_destroy(PyObject *capsule)
{
    /* A region that was not released may still be in use: it is left
     * mapped rather than freed under a running child. */
    PyMem_Free(PyCapsule_GetPointer(capsule, REGION));
}

static PyObject *
release(PyObject *module, PyObject *capsule)
{
    struct region *region = PyCapsule_GetPointer(capsule, REGION);
    if (region == NULL)
        return NULL;
    if (region->address != NULL) {
        give_back(region->address, region->size);
        region->address = NULL;
    }
    Py_RETURN_NONE;
}

/* A bump allocator over the region, below the child's stack. */
struct arena {
    char *next, *end;
};

static void *
take(struct arena *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if ((size_t)(arena->end - arena->next) < size)
        return NULL;
    void *result = arena->next;
    arena->next += size;
    return result;
}

static char *
copy_bytes(struct arena *arena, PyObject *bytes)
{
    char *data;
    Py_ssize_t length;
    if (PyBytes_AsStringAndSize(bytes, &data, &length) < 0)
        return NULL;
    if ((Py_ssize_t)strlen(data) != length) {
        PyErr_SetString(PyExc_ValueError, "embedded NUL");
        return NULL;
    }
    char *copy = take(arena, (size_t)length + 1);
    if (copy == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, data, (size_t)length + 1);
    return copy;
}

static char **
copy_strings(struct arena *arena, PyObject *sequence)
{
    Py_ssize_t count = PyTuple_GET_SIZE(sequence);
    char **array = take(arena, sizeof(char *) * (size_t)(count + 1));
    if (array == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if ((array[i] = copy_bytes(arena, PyTuple_GET_ITEM(sequence, i))) == NULL)
            return NULL;
    array[count] = NULL;
    return array;
}

static size_t
strings_size(PyObject *sequence, int *ok)
{
    size_t size = 16 * (size_t)(PyTuple_GET_SIZE(sequence) + 1);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sequence); i++) {
        PyObject *item = PyTuple_GET_ITEM(sequence, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "bytes expected");
            *ok = 0;
            return 0;
        }
        size += (size_t)PyBytes_GET_SIZE(item) + 16;
    }
    return size;
}

PyDoc_STRVAR(launch_doc,
"launch(path, argv, envp, fd, status_fd, max_fd, uid, gid, groups, umask, nice, limits,\n"
"       exit_signal)\n"
"--\n\n"
"Start a child that sets itself up and executes path (see the module's\n"
"source).  uid, gid, umask and nice are None to keep the daemon's; groups\n"
"is None to keep them, or a tuple of gids; limits is a tuple of\n"
"(resource, value) pairs, value -1 for unlimited; exit_signal is the signal\n"
"the caller gets when the child ends (0: none; it is then waited for with\n"
"__WALL).  Failures of the child\n"
"are written to status_fd as three native ints: step, errno, resource.\n"
"Returns (pid, region): release(region) once the child has executed the\n"
"server or ended.");

static PyObject *
launch(PyObject *module, PyObject *args)
{
    PyObject *path, *argv, *envp, *uid, *gid, *groups, *umask, *nice, *limits;
    int fd, status_fd, max_fd, exit_signal;
    if (!PyArg_ParseTuple(args, "SO!O!iiiOOOOOO!i", &path, &PyTuple_Type, &argv, &PyTuple_Type,
                          &envp, &fd, &status_fd, &max_fd, &uid, &gid, &groups, &umask, &nice,
                          &PyTuple_Type, &limits, &exit_signal))
        return NULL;
    if (exit_signal < 0 || exit_signal > MAX_SIGNAL) {
        PyErr_SetString(PyExc_ValueError, "invalid exit signal");
        return NULL;
    }
    if (fd < 3 || status_fd < 3 || fd == status_fd) {
        PyErr_SetString(PyExc_ValueError, "descriptors must be distinct and above 2");
        return NULL;
    }
    if (groups != Py_None && !PyTuple_Check(groups)) {
        PyErr_SetString(PyExc_TypeError, "groups must be a tuple or None");
        return NULL;
    }

    int ok = 1;
    Py_ssize_t ngroups = groups == Py_None ? 0 : PyTuple_GET_SIZE(groups);
    Py_ssize_t nlimits = PyTuple_GET_SIZE(limits);
    size_t data = sizeof(struct plan) + 64 + (size_t)PyBytes_GET_SIZE(path) + 16 +
                  strings_size(argv, &ok) + strings_size(envp, &ok) +
                  sizeof(unsigned int) * (size_t)ngroups + 16 +
                  sizeof(struct limit) * (size_t)nlimits + 16;
    if (!ok)
        return NULL;
    long page = sysconf(_SC_PAGESIZE);
    size_t size = (data + CHILD_STACK + (size_t)page - 1) & ~((size_t)page - 1);
    if (size <= POOLED_SIZE)
        size = POOLED_SIZE;
    void *address = take_region(size);
    if (address == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);

    struct arena arena = {address, (char *)address + data};
    struct plan *plan = take(&arena, sizeof *plan);
    memset(plan, 0, sizeof *plan);
    plan->fd = fd;
    plan->status_fd = status_fd;
    plan->max_fd = max_fd;
    if ((plan->path = copy_bytes(&arena, path)) == NULL ||
        (plan->argv = copy_strings(&arena, argv)) == NULL ||
        (plan->envp = copy_strings(&arena, envp)) == NULL)
        goto error;
    if (uid != Py_None) {
        plan->set_uid = 1;
        plan->uid = (unsigned int)PyLong_AsUnsignedLong(uid);
    }
    if (gid != Py_None) {
        plan->set_gid = 1;
        plan->gid = (unsigned int)PyLong_AsUnsignedLong(gid);
    }
    if (umask != Py_None) {
        plan->set_umask = 1;
        plan->umask = (int)PyLong_AsLong(umask);
    }
    if (nice != Py_None) {
        plan->set_nice = 1;
        plan->nice = (int)PyLong_AsLong(nice);
    }
    if (groups != Py_None) {
        plan->set_groups = 1;
        plan->ngroups = (int)ngroups;
        plan->groups = take(&arena, sizeof(unsigned int) * (size_t)(ngroups + 1));
        if (plan->groups == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        for (Py_ssize_t i = 0; i < ngroups; i++)
            plan->groups[i] = (unsigned int)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(groups, i));
    }
    plan->nlimits = (int)nlimits;
    plan->limits = take(&arena, sizeof(struct limit) * (size_t)(nlimits + 1));
    if (plan->limits == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < nlimits; i++) {
        int resource;
        long long value;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(limits, i), "iL", &resource, &value))
            goto error;
        plan->limits[i].resource = resource;
        plan->limits[i].value[0] = plan->limits[i].value[1] =
            value < 0 ? ~(uint64_t)0 : (uint64_t)value;
    }
    if (PyErr_Occurred())
        goto error;

    struct region *region = PyMem_Malloc(sizeof *region);
    if (region == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    region->address = address;
    region->size = size;
    PyObject *capsule = PyCapsule_New(region, REGION, region_destroy);
    if (capsule == NULL) {
        PyMem_Free(region);
        goto error;
    }

    /* The child starts with every signal blocked, so that no handler of
     * the daemon's runs in it before it has put them all back to their
     * default. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    char *top = (char *)address + size;
    pid_t pid = clone(child_main, top, CLONE_VM | exit_signal, plan);
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) {
        Py_DECREF(capsule);
        give_back(address, size);
        errno = error;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *result = Py_BuildValue("(iN)", (int)pid, capsule);
    return result;

error:
    give_back(address, size);
    return NULL;
}

static PyMethodDef methods[] = {
    {"launch", launch, METH_VARARGS, launch_doc},
    {"release", release, METH_O, "release(region)\n--\n\nUnmap a child's region."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "txinetd.spawn._launch", "Start servers with clone(CLONE_VM).", -1, methods,
};

PyMODINIT_FUNC
PyInit__launch(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "STEP_SIGACTION", STEP_SIGACTION) < 0 ||
        PyModule_AddIntConstant(m, "STEP_SETSID", STEP_SETSID) < 0 ||
        PyModule_AddIntConstant(m, "STEP_DUP2", STEP_DUP2) < 0 ||
        PyModule_AddIntConstant(m, "STEP_CHDIR", STEP_CHDIR) < 0 ||
        PyModule_AddIntConstant(m, "STEP_SETGROUPS", STEP_SETGROUPS) < 0 ||
        PyModule_AddIntConstant(m, "STEP_SETGID", STEP_SETGID) < 0 ||
        PyModule_AddIntConstant(m, "STEP_SETRLIMIT", STEP_SETRLIMIT) < 0 ||
        PyModule_AddIntConstant(m, "STEP_SETUID", STEP_SETUID) < 0 ||
        PyModule_AddIntConstant(m, "STEP_EXECVE", STEP_EXECVE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
