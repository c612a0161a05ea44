/* loadgen: the load generator of the txinetd benchmarks, and the trivial
 * reference servers that show it is not the bottleneck.
 *
 * Clients (each prints one JSON object on stdout):
 *   loadgen tcp  host=H port=P conc=N seconds=S max=M payload=B expect=E eof=1
 *                check=C
 *       Closed loop: N workers, each connect, send B bytes, half-close, read
 *       until EOF (eof=1) or until E bytes (eof=0), close, and check what it
 *       read (check= below).  Stops after S seconds, M connections or
 *       SIGUSR1.
 *   loadgen udp  host=H port=P seconds=S max=M payload=B window=W
 *       Datagrams answered per second with at most W outstanding; after
 *       200 ms without a reply the outstanding ones count as lost.  A reply
 *       must be the datagram sent, byte for byte.
 *   loadgen idle host=H port=P conns=N threads=T hold=S
 *       Opens N connections, each sends one byte and reads the same byte
 *       back, prints the result, then holds them until stdin closes or S
 *       seconds pass.
 *   loadgen bulk host=H port=P expect=E check=C
 *       Connects, reads until EOF, checks the bytes, reports bytes and MiB/s.
 *   check= (tcp and bulk): what a reply must be, byte for byte or by its
 *       pattern: echo (the B bytes sent), daytime (DD MON YYYY HH:MM:SS ZONE
 *       CR LF), time (4 bytes: this machine's clock, within a minute, as
 *       RFC 868 counts it), chargen (chargen's lines from the first, 72
 *       characters of '!'..'}' and CR LF), zeros, source (the bytes 's' that
 *       source-server sends), any (anything but nothing: the default).  The
 *       length must be E where E is given.  A reply that is not what it
 *       must be counts as wrong (or short, if it stops early), a failure
 *       that is never in the rate.
 *   tls=1 (tcp and bulk): the same over TLS, a full handshake for every
 *       connection, the server's certificate not verified.  tcp: send B
 *       bytes, read E bytes, send close_notify, then with eof=1 half-close
 *       and read until the server closes (TLS has no half-close before the
 *       reply), with eof=0 reset the connection.  bulk: read until the
 *       server's close_notify or EOF.  The result adds what the first
 *       connection negotiated (protocol, cipher, key exchange group and the
 *       SHA-256 of the server's certificate) and the first failure's
 *       reason; a later connection that negotiates otherwise counts as a
 *       failure (tls_varied).
 * Servers (run until killed):
 *   loadgen echo-server   port=P threads=T
 *   loadgen source-server port=P bytes=B threads=T
 *   loadgen udp-echo-server port=P
 *   loadgen tls-echo-server port=P threads=T cert=FILE key=FILE
 *   loadgen tls-source-server port=P bytes=B threads=T cert=FILE key=FILE
 *       (B zero bytes over TLS, as dd if=/dev/zero sends them, then
 *       close_notify)
 * All sockets are on 127.0.0.1 unless host= says otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_SECONDS 5
#define UDP_LOSS_TIMEOUT_MS 200
#define MAX_WORKERS 1024
#define BUFFER_SIZE (256 * 1024)
#define TIME_OFFSET 2208988800L
#define CHARGEN_WIDTH 72
#define CHARGEN_LINE 74
#define CHARGEN_PERIOD 95
#define CHARGEN_ALPHABET 93
#define SHORT_REPLY 64

struct options {
    const char *host, *cert, *key, *check;
    long port, conc, seconds_ms, max, payload, expect, eof, window, conns, threads, hold,
        bytes, tls;
};

static struct options opt = {
    .host = "127.0.0.1", .conc = 1, .seconds_ms = 2000, .max = 1000000, .payload = 0,
    .expect = -1, .eof = 1, .window = 1, .conns = 1000, .threads = 8, .hold = 60,
    .bytes = 64L << 20, .check = "any",
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpuSeconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen tcp|udp|idle|bulk|echo-server|source-server|"
                    "udp-echo-server|tls-echo-server|tls-source-server key=value...\n");
    exit(2);
}

static void parseOption(const char *arg) {
    const char *eq = strchr(arg, '=');
    if (eq == NULL) usage();
    size_t n = (size_t)(eq - arg);
    const char *value = eq + 1;
    static const struct {
        const char *name;
        const char **field;
    } strings[] = {
        {"host", &opt.host}, {"cert", &opt.cert}, {"key", &opt.key}, {"check", &opt.check}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strlen(strings[i].name) == n && strncmp(arg, strings[i].name, n) == 0) {
            *strings[i].field = value;
            return;
        }
    }
    if (n == 7 && strncmp(arg, "seconds", n) == 0) {
        opt.seconds_ms = (long)(atof(value) * 1000);
        return;
    }
    static const struct {
        const char *name;
        long *field;
    } table[] = {
        {"port", &opt.port},       {"conc", &opt.conc},       {"max", &opt.max},
        {"payload", &opt.payload}, {"expect", &opt.expect},   {"eof", &opt.eof},
        {"window", &opt.window},   {"conns", &opt.conns},     {"threads", &opt.threads},
        {"hold", &opt.hold},       {"bytes", &opt.bytes},     {"tls", &opt.tls},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) == n && strncmp(arg, table[i].name, n) == 0) {
            *table[i].field = atol(value);
            return;
        }
    }
    fprintf(stderr, "loadgen: unknown option %s\n", arg);
    exit(2);
}

static struct sockaddr_in address(void) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)opt.port);
    if (inet_pton(AF_INET, opt.host, &a.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", opt.host);
        exit(2);
    }
    return a;
}

static void setTimeouts(int fd, long ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int writeAll(int fd, const char *data, long size) {
    while (size > 0) {
        ssize_t n = write(fd, data, (size_t)size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        size -= n;
    }
    return 0;
}

/* How one connection ended: only OK counts in the rate. */
enum outcome { OK, REFUSED, FAILED, SHORT, TIMEOUT, WRONG, TLS_VARIED, OUTCOMES };

/* ---- checking what a server sends ---- */

enum checkKind { CHECK_ANY, CHECK_ECHO, CHECK_DAYTIME, CHECK_TIME, CHECK_CHARGEN, CHECK_ZEROS,
                 CHECK_SOURCE };

static enum checkKind checkKind;
static char *payload;

/* The byte a zeros or source reply repeats, a block of it: such a reply
 * (64 MiB in the bulk scenarios) is compared a block at a time, which
 * costs the client far less than a test of every byte. */
#define UNIFORM_BLOCK 4096
static char uniformBlock[UNIFORM_BLOCK];

static void parseCheck(void) {
    static const char *names[] = {"any", "echo", "daytime", "time", "chargen", "zeros", "source"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(opt.check, names[i]) == 0) {
            checkKind = (enum checkKind)i;
            memset(uniformBlock, checkKind == CHECK_SOURCE ? 's' : 0, sizeof uniformBlock);
            return;
        }
    }
    fprintf(stderr, "loadgen: unknown check=%s\n", opt.check);
    exit(2);
}

/* What one reply has shown so far: how many bytes, whether any was wrong,
 * and the first bytes of a short reply (daytime, time), checked at the end. */
struct checker {
    long got;
    int wrong;
    char head[SHORT_REPLY];
};

static char chargenByte(long offset) {
    long line = offset / CHARGEN_LINE, column = offset % CHARGEN_LINE;
    if (column == CHARGEN_WIDTH) return '\r';
    if (column == CHARGEN_WIDTH + 1) return '\n';
    long start = line % CHARGEN_PERIOD % CHARGEN_ALPHABET;
    return (char)('!' + (start + column) % CHARGEN_ALPHABET);
}

/* Whether n bytes differ anywhere from the uniform block's byte. */
static int notUniform(const char *data, long n) {
    for (long at = 0; at < n; at += UNIFORM_BLOCK) {
        size_t k = (size_t)(n - at < UNIFORM_BLOCK ? n - at : UNIFORM_BLOCK);
        if (memcmp(data + at, uniformBlock, k) != 0) return 1;
    }
    return 0;
}

/* Check the next n bytes of a reply. */
static void feed(struct checker *c, const char *data, long n) {
    if (checkKind == CHECK_ZEROS || checkKind == CHECK_SOURCE) {
        c->wrong = c->wrong || notUniform(data, n);
        c->got += n;
        return;
    }
    for (long i = 0; i < n && !c->wrong && checkKind != CHECK_ANY; i++) {
        long at = c->got + i;
        switch (checkKind) {
        case CHECK_ECHO:
            c->wrong = at >= opt.payload || data[i] != payload[at];
            break;
        case CHECK_CHARGEN:
            c->wrong = data[i] != chargenByte(at);
            break;
        case CHECK_DAYTIME:
        case CHECK_TIME:
            if (at < SHORT_REPLY) c->head[at] = data[i];
            else c->wrong = 1;
            break;
        default:
            break;
        }
    }
    c->got += n;
}

static int digits(const char *s, int count) {
    for (int i = 0; i < count; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* "DD MON YYYY HH:MM:SS ZONE\r\n", the zone a word of at least one byte. */
static int isDaytime(const char *s, long n) {
    if (n < 24 || s[n - 2] != '\r' || s[n - 1] != '\n') return 0;
    if (!digits(s, 2) || s[2] != ' ' || s[6] != ' ' || !digits(s + 7, 4) || s[11] != ' ') return 0;
    for (int i = 3; i < 6; i++)
        if (s[i] < 'A' || s[i] > 'Z') return 0;
    if (!digits(s + 12, 2) || s[14] != ':' || !digits(s + 15, 2) || s[17] != ':') return 0;
    if (!digits(s + 18, 2) || s[20] != ' ') return 0;
    for (long i = 21; i < n - 2; i++)
        if (s[i] == ' ' || s[i] == '\r' || s[i] == '\n') return 0;
    return 1;
}

static int isNow(const char *s, long n) {
    if (n != 4) return 0;
    const unsigned char *u = (const unsigned char *)s;
    long seconds = (long)(((unsigned long)u[0] << 24) | ((unsigned long)u[1] << 16) |
                          ((unsigned long)u[2] << 8) | u[3]) - TIME_OFFSET;
    long skew = seconds - (long)time(NULL);
    return skew > -60 && skew < 60;
}

/* The outcome of a whole reply: OK, SHORT (it stopped early) or WRONG. */
static enum outcome verdict(const struct checker *c) {
    if (c->wrong) return WRONG;
    long wanted = checkKind == CHECK_ECHO ? opt.payload : opt.expect;
    switch (checkKind) {
    case CHECK_DAYTIME:
        return isDaytime(c->head, c->got) ? OK : c->got < 24 ? SHORT : WRONG;
    case CHECK_TIME:
        return isNow(c->head, c->got) ? OK : c->got < 4 ? SHORT : WRONG;
    case CHECK_ANY:
        if (c->got == 0) return SHORT;
        break;
    default:
        break;
    }
    if (wanted >= 0 && c->got < wanted) return SHORT;
    if (wanted >= 0 && c->got > wanted) return WRONG;
    return OK;
}

/* ---- tcp: closed-loop connections ---- */

struct tcpTotals {
    long counts[OUTCOMES];
};

static long issued;
static double deadline;
static double *latencies;
static volatile sig_atomic_t stopping;

static void stopSoon(int signum) {
    (void)signum;
    stopping = 1;
}

static int timedOut(void) {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* A socket connected to a, or -1 with the outcome in *result. */
static int connectTo(const struct sockaddr_in *a, enum outcome *result) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        *result = FAILED;
        return -1;
    }
    setTimeouts(fd, IO_TIMEOUT_SECONDS * 1000);
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0) {
        *result = errno == ECONNREFUSED ? REFUSED : errno == EINPROGRESS ? TIMEOUT : FAILED;
        close(fd);
        return -1;
    }
    *result = OK;
    return fd;
}

/* Close with RST: no TIME_WAIT left on the client side. */
static void resetOnClose(int fd) {
    struct linger reset = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

/* One connection; what it read is checked by c. */
static enum outcome oneConnection(const struct sockaddr_in *a, char *buf, struct checker *c) {
    enum outcome result;
    int fd = connectTo(a, &result);
    if (fd < 0) return result;
    if (writeAll(fd, payload, opt.payload) < 0) result = timedOut() ? TIMEOUT : FAILED;
    if (result == OK && opt.eof) shutdown(fd, SHUT_WR);
    int atEof = 0;
    while (result == OK && (opt.eof || opt.expect < 0 || c->got < opt.expect)) {
        long room = opt.eof || opt.expect < 0 ? BUFFER_SIZE : opt.expect - c->got;
        ssize_t n = read(fd, buf, (size_t)(room < BUFFER_SIZE ? room : BUFFER_SIZE));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) result = timedOut() ? TIMEOUT : FAILED;
        if (n <= 0) {
            atEof = n == 0;
            break;
        }
        feed(c, buf, n);
        if (!opt.eof && opt.expect < 0) break;
    }
    if (!atEof) resetOnClose(fd);
    close(fd);
    return result == OK ? verdict(c) : result;
}

/* ---- TLS: the client side of tcp and bulk with tls=1, and tls-echo-server ---- */

static SSL_CTX *tlsContext;
static pthread_mutex_t tlsLock = PTHREAD_MUTEX_INITIALIZER;
static char tlsSession[256], tlsFailure[192];

static void tlsDie(const char *what) {
    fprintf(stderr, "loadgen: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(2);
}

static SSL_CTX *newTlsContext(const SSL_METHOD *method) {
    SSL_CTX *context = SSL_CTX_new(method);
    if (context == NULL) tlsDie("SSL_CTX_new");
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return context;
}

static void useClientContext(void) {
    tlsContext = newTlsContext(TLS_client_method());
    SSL_CTX_set_verify(tlsContext, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(tlsContext, SSL_SESS_CACHE_OFF);
}

static void useServerContext(void) {
    if (opt.cert == NULL) usage();
    tlsContext = newTlsContext(TLS_server_method());
    SSL_CTX_set_num_tickets(tlsContext, 0);
    if (SSL_CTX_use_certificate_chain_file(tlsContext, opt.cert) != 1) tlsDie(opt.cert);
    const char *key = opt.key != NULL ? opt.key : opt.cert;
    if (SSL_CTX_use_PrivateKey_file(tlsContext, key, SSL_FILETYPE_PEM) != 1) tlsDie(key);
}

/* Keep the first of these texts in a shared buffer. */
static void noteOnce(char *into, size_t size, const char *step, const char *text) {
    pthread_mutex_lock(&tlsLock);
    if (into[0] == '\0') snprintf(into, size, "%s%s", step, text);
    pthread_mutex_unlock(&tlsLock);
}

/* What a session negotiated: protocol, cipher, key exchange group and the
 * SHA-256 of the server's certificate. */
static void describeSession(SSL *ssl, char *text, size_t size) {
    int group = SSL_get_negotiated_group(ssl);
    char fingerprint[2 * EVP_MAX_MD_SIZE + 1] = "-";
    X509 *certificate = SSL_get1_peer_certificate(ssl);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (certificate != NULL && X509_digest(certificate, EVP_sha256(), digest, &length) == 1)
        for (unsigned int i = 0; i < length; i++) sprintf(fingerprint + 2 * i, "%02x", digest[i]);
    X509_free(certificate);
    snprintf(text, size, "%s %s %s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
             group ? OBJ_nid2sn(group & ~TLSEXT_nid_unknown) : "-", fingerprint);
}

/* Note what the first session negotiated; whether this one negotiated the same. */
static int sameSession(SSL *ssl) {
    char text[sizeof tlsSession];
    describeSession(ssl, text, sizeof text);
    noteOnce(tlsSession, sizeof tlsSession, "", text);
    pthread_mutex_lock(&tlsLock);
    int same = strcmp(text, tlsSession) == 0;
    pthread_mutex_unlock(&tlsLock);
    return same;
}

/* Why a TLS call failed (the first reason is kept), as an outcome. */
static enum outcome tlsFailed(SSL *ssl, int ret, const char *step) {
    int saved = errno, kind = SSL_get_error(ssl, ret);
    /* SO_RCVTIMEO and SO_SNDTIMEO expiring show as WANT_READ or WANT_WRITE. */
    int timeout = kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE ||
                  (kind == SSL_ERROR_SYSCALL && (saved == EAGAIN || saved == EWOULDBLOCK));
    unsigned long code = ERR_get_error();
    char reason[160];
    if (timeout)
        snprintf(reason, sizeof reason, "timed out after %d s", IO_TIMEOUT_SECONDS);
    else if (code != 0)
        ERR_error_string_n(code, reason, sizeof reason);
    else if (kind == SSL_ERROR_SYSCALL && saved != 0)
        snprintf(reason, sizeof reason, "%s", strerror(saved));
    else
        snprintf(reason, sizeof reason, "SSL_get_error %d", kind);
    ERR_clear_error();
    noteOnce(tlsFailure, sizeof tlsFailure, step, reason);
    return timeout ? TIMEOUT : FAILED;
}

/* Bytes read (> 0), 0 when the server has closed, -1 with the outcome in *result. */
static int tlsReceive(SSL *ssl, char *buf, enum outcome *result, const char *step) {
    ERR_clear_error();
    int n = SSL_read(ssl, buf, BUFFER_SIZE);
    if (n > 0) return n;
    if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) return 0;
    *result = tlsFailed(ssl, n, step);
    return -1;
}

/* A TLS session over fd, handshake done, or NULL with the outcome in *result.
 * Nagle's algorithm is off, as TLS clients have it: otherwise the request
 * waits for the ACK of the handshake's last message. */
static SSL *tlsConnect(int fd, enum outcome *result) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(tlsContext);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) tlsDie("SSL_new");
    ERR_clear_error();
    int ret = SSL_connect(ssl);
    if (ret == 1) {
        if (!sameSession(ssl)) *result = TLS_VARIED;
        return ssl;
    }
    *result = tlsFailed(ssl, ret, "handshake: ");
    SSL_free(ssl);
    return NULL;
}

/* One connection over TLS: handshake, send, read the reply, close_notify,
 * then (eof=1) half-close and wait for the server to close. */
static enum outcome oneTlsConnection(const struct sockaddr_in *a, char *buf, struct checker *c) {
    enum outcome result;
    int fd = connectTo(a, &result);
    if (fd < 0) return result;
    SSL *ssl = tlsConnect(fd, &result);
    if (ssl != NULL && result == OK && opt.payload > 0) {
        ERR_clear_error();
        int ret = SSL_write(ssl, payload, (int)opt.payload);
        if (ret <= 0) result = tlsFailed(ssl, ret, "send: ");
    }
    int n = 1;
    while (result == OK && n > 0 && !(opt.expect < 0 ? c->got > 0 : c->got >= opt.expect)) {
        n = tlsReceive(ssl, buf, &result, "reply: ");
        if (n > 0) feed(c, buf, n);
    }
    int atEof = 0;
    if (result == OK && n > 0) {
        SSL_shutdown(ssl);
        if (opt.eof) {
            shutdown(fd, SHUT_WR);
            while ((n = tlsReceive(ssl, buf, &result, "close: ")) > 0) feed(c, buf, n);
            atEof = n == 0;
        }
    }
    if (!atEof) resetOnClose(fd);
    SSL_free(ssl);
    close(fd);
    return result == OK ? verdict(c) : result;
}

/* The TLS fields of a client's result, if it used TLS. */
static void printTlsFields(void) {
    if (!opt.tls) return;
    printf(", \"tls\": \"%s\", \"tls_error\": \"%s\"", tlsSession, tlsFailure);
}

static void serveTlsEcho(int fd, char *buf) {
    SSL *ssl = SSL_new(tlsContext);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) tlsDie("SSL_new");
    int n = SSL_accept(ssl);
    if (n == 1) {
        while ((n = SSL_read(ssl, buf, BUFFER_SIZE)) > 0)
            if (SSL_write(ssl, buf, n) <= 0) break;
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN) SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
}

static void serveTlsSource(int fd, char *buf) {
    SSL *ssl = SSL_new(tlsContext);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) tlsDie("SSL_new");
    if (SSL_accept(ssl) == 1) {
        memset(buf, 0, BUFFER_SIZE);
        long left = opt.bytes;
        while (left > 0) {
            int n = SSL_write(ssl, buf, (int)(left < BUFFER_SIZE ? left : BUFFER_SIZE));
            if (n <= 0) break;
            left -= n;
        }
        if (left == 0) SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ERR_clear_error();
}

static void *tcpWorker(void *arg) {
    struct tcpTotals *totals = arg;
    struct sockaddr_in a = address();
    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) die("malloc");
    for (;;) {
        double start = now();
        if (start >= deadline || stopping) break;
        long i = __atomic_fetch_add(&issued, 1, __ATOMIC_RELAXED);
        if (i >= opt.max) break;
        struct checker c = {0};
        enum outcome result =
            opt.tls ? oneTlsConnection(&a, buf, &c) : oneConnection(&a, buf, &c);
        totals->counts[result]++;
        latencies[i] = result == OK ? (now() - start) * 1000 : -1;
        if (result != OK) usleep(1000); /* do not spin on a refusing port */
    }
    free(buf);
    return NULL;
}

static int compareDoubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int runTcp(void) {
    if (opt.conc < 1 || opt.conc > MAX_WORKERS) usage();
    payload = malloc((size_t)opt.payload + 1);
    latencies = calloc((size_t)opt.max, sizeof(double));
    if (payload == NULL || latencies == NULL) die("malloc");
    for (long i = 0; i < opt.payload; i++) payload[i] = (char)('a' + i % 26);
    signal(SIGUSR1, stopSoon);
    pthread_t threads[MAX_WORKERS];
    struct tcpTotals totals[MAX_WORKERS];
    memset(totals, 0, sizeof totals);
    double start = now();
    deadline = start + (double)opt.seconds_ms / 1000;
    for (long k = 0; k < opt.conc; k++)
        if (pthread_create(&threads[k], NULL, tcpWorker, &totals[k]) != 0) die("pthread_create");
    for (long k = 0; k < opt.conc; k++) pthread_join(threads[k], NULL);
    double elapsed = now() - start;
    long sum[OUTCOMES] = {0};
    for (long k = 0; k < opt.conc; k++)
        for (int j = 0; j < OUTCOMES; j++) sum[j] += totals[k].counts[j];
    long done = issued < opt.max ? issued : opt.max, ok = 0;
    for (long i = 0; i < done; i++)
        if (latencies[i] >= 0) latencies[ok++] = latencies[i];
    qsort(latencies, (size_t)ok, sizeof(double), compareDoubles);
    printf("{\"mode\": \"tcp\", \"check\": \"%s\", \"conc\": %ld, \"ok\": %ld, \"refused\": %ld, "
           "\"errors\": %ld, \"short\": %ld, \"wrong\": %ld, \"tls_varied\": %ld, "
           "\"timeouts\": %ld, \"seconds\": %.4f, \"rate\": %.1f, \"p50_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"cpu_s\": %.3f",
           opt.check, opt.conc, sum[OK], sum[REFUSED], sum[FAILED], sum[SHORT], sum[WRONG],
           sum[TLS_VARIED], sum[TIMEOUT], elapsed,
           (double)sum[OK] / elapsed, ok ? latencies[ok / 2] : 0,
           ok ? latencies[(long)((double)ok * 0.99)] : 0, ok ? latencies[ok - 1] : 0,
           cpuSeconds());
    printTlsFields();
    printf("}\n");
    return 0;
}

/* ---- udp: datagrams answered per second ---- */

static int runUdp(void) {
    if (opt.payload < 4 || opt.payload > 2048 || opt.window < 1) usage();
    struct sockaddr_in a = address();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    setTimeouts(fd, UDP_LOSS_TIMEOUT_MS);
    char out[2048], in[4096];
    memset(out, 'u', sizeof out);
    unsigned epoch = 0;
    long answered = 0, lost = 0, stale = 0, shortReplies = 0, wrong = 0, outstanding = 0;
    double start = now();
    double end = start + (double)opt.seconds_ms / 1000;
    while (now() < end && answered < opt.max) {
        while (outstanding < opt.window) {
            memcpy(out, &epoch, sizeof epoch);
            if (send(fd, out, (size_t)opt.payload, 0) < 0) break;
            outstanding++;
        }
        ssize_t n = recv(fd, in, sizeof in, 0);
        if (n < 0) {
            lost += outstanding; /* timeout or ICMP error: start a new epoch */
            outstanding = 0;
            epoch++;
            continue;
        }
        unsigned replyEpoch = 0;
        if (n >= (ssize_t)sizeof replyEpoch) memcpy(&replyEpoch, in, sizeof replyEpoch);
        if (n < (ssize_t)sizeof replyEpoch || replyEpoch != epoch) {
            stale++;
            continue;
        }
        outstanding--;
        if (n != opt.payload || memcmp(in, out, (size_t)n) != 0) {
            /* Not the datagram sent: a failure, never in the rate. */
            if (n < opt.payload) shortReplies++;
            else wrong++;
            epoch++;
            continue;
        }
        answered++;
    }
    double elapsed = now() - start;
    printf("{\"mode\": \"udp\", \"window\": %ld, \"ok\": %ld, \"lost\": %ld, \"stale\": %ld, "
           "\"short\": %ld, \"wrong\": %ld, \"seconds\": %.4f, \"rate\": %.1f, \"cpu_s\": %.3f}\n",
           opt.window, answered, lost, stale, shortReplies, wrong, elapsed,
           (double)answered / elapsed, cpuSeconds());
    return 0;
}

/* ---- idle: many open connections ---- */

static int *idleFds;
static long idleNext, idleErrors;

static void *idleWorker(void *arg) {
    (void)arg;
    struct sockaddr_in a = address();
    for (;;) {
        long i = __atomic_fetch_add(&idleNext, 1, __ATOMIC_RELAXED);
        if (i >= opt.conns) break;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        char byte = 'i';
        if (fd >= 0) setTimeouts(fd, IO_TIMEOUT_SECONDS * 1000);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
            write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1 || byte != 'i') {
            __atomic_fetch_add(&idleErrors, 1, __ATOMIC_RELAXED);
            if (fd >= 0) close(fd);
            fd = -1;
        }
        idleFds[i] = fd;
    }
    return NULL;
}

static void raiseFileLimit(long needed) {
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur >= (rlim_t)needed) return;
    r.rlim_cur = (rlim_t)needed;
    if (r.rlim_max < r.rlim_cur) r.rlim_max = r.rlim_cur;
    if (setrlimit(RLIMIT_NOFILE, &r) < 0) die("setrlimit(RLIMIT_NOFILE)");
}

static int runIdle(void) {
    if (opt.conns < 1 || opt.threads < 1 || opt.threads > MAX_WORKERS) usage();
    raiseFileLimit(opt.conns + 64);
    idleFds = calloc((size_t)opt.conns, sizeof(int));
    if (idleFds == NULL) die("malloc");
    pthread_t threads[MAX_WORKERS];
    double start = now();
    for (long k = 0; k < opt.threads; k++)
        if (pthread_create(&threads[k], NULL, idleWorker, NULL) != 0) die("pthread_create");
    for (long k = 0; k < opt.threads; k++) pthread_join(threads[k], NULL);
    printf("{\"mode\": \"idle\", \"established\": %ld, \"errors\": %ld, \"seconds\": %.4f, "
           "\"cpu_s\": %.3f}\n",
           opt.conns - idleErrors, idleErrors, now() - start, cpuSeconds());
    fflush(stdout);
    struct pollfd in = {.fd = 0, .events = POLLIN};
    double end = now() + (double)opt.hold;
    while (now() < end) {
        int ready = poll(&in, 1, (int)((end - now()) * 1000) + 1);
        char c;
        if (ready > 0 && read(0, &c, 1) <= 0) break;
    }
    for (long i = 0; i < opt.conns; i++)
        if (idleFds[i] >= 0) close(idleFds[i]);
    return 0;
}

/* ---- bulk: one long download ---- */

static int runBulk(void) {
    struct sockaddr_in a = address();
    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) die("malloc");
    double start = now();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setTimeouts(fd, IO_TIMEOUT_SECONDS * 1000);
    struct checker c = {0};
    int failed = connect(fd, (struct sockaddr *)&a, sizeof a) < 0;
    enum outcome result = OK;
    SSL *ssl = !failed && opt.tls ? tlsConnect(fd, &result) : NULL;
    failed = failed || result != OK;
    while (!failed) {
        ssize_t n = ssl != NULL ? tlsReceive(ssl, buf, &result, "read: ")
                                : read(fd, buf, BUFFER_SIZE);
        if (n < 0 && ssl == NULL && errno == EINTR) continue;
        failed = n < 0;
        if (n <= 0) break;
        feed(&c, buf, n);
    }
    SSL_free(ssl);
    close(fd);
    double elapsed = now() - start;
    enum outcome checked = failed ? FAILED : verdict(&c);
    printf("{\"mode\": \"bulk\", \"check\": \"%s\", \"ok\": %d, \"short\": %d, "
           "\"wrong\": %d, \"errors\": %d, \"bytes\": %ld, \"seconds\": %.4f, \"rate\": %.1f, "
           "\"cpu_s\": %.3f",
           opt.check, checked == OK, checked == SHORT, checked == WRONG, checked == FAILED, c.got,
           elapsed, (double)c.got / 1048576.0 / elapsed, cpuSeconds());
    printTlsFields();
    printf("}\n");
    return 0;
}

/* ---- reference servers ---- */

static int listenOn(int type) {
    struct sockaddr_in a = address();
    int fd = socket(AF_INET, type, 0);
    int one = 1;
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (type == SOCK_STREAM && listen(fd, 1024) < 0) die("listen");
    return fd;
}

typedef void (*handler)(int fd, char *buf);

struct acceptLoop {
    int listener;
    handler serve;
};

static void *acceptThread(void *arg) {
    const struct acceptLoop *loop = arg;
    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) die("malloc");
    for (;;) {
        int fd = accept(loop->listener, NULL, NULL);
        if (fd < 0) continue;
        setTimeouts(fd, IO_TIMEOUT_SECONDS * 1000);
        loop->serve(fd, buf);
        close(fd);
    }
    return NULL;
}

static void serveEcho(int fd, char *buf) {
    ssize_t n;
    while ((n = read(fd, buf, BUFFER_SIZE)) > 0)
        if (writeAll(fd, buf, n) < 0) return;
}

static void serveSource(int fd, char *buf) {
    memset(buf, 's', BUFFER_SIZE);
    for (long left = opt.bytes; left > 0; left -= BUFFER_SIZE)
        if (writeAll(fd, buf, left < BUFFER_SIZE ? left : BUFFER_SIZE) < 0) return;
}

static int runStreamServer(handler serve) {
    if (opt.threads < 1 || opt.threads > MAX_WORKERS) usage();
    struct acceptLoop loop = {.listener = listenOn(SOCK_STREAM), .serve = serve};
    pthread_t thread;
    for (long k = 1; k < opt.threads; k++)
        if (pthread_create(&thread, NULL, acceptThread, &loop) != 0) die("pthread_create");
    acceptThread(&loop);
    return 0;
}

static int runUdpEchoServer(void) {
    int fd = listenOn(SOCK_DGRAM);
    char buf[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n >= 0) sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    for (int i = 2; i < argc; i++) parseOption(argv[i]);
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argv[1];
    parseCheck();
    if (opt.tls) useClientContext();
    if (strcmp(mode, "tcp") == 0) return runTcp();
    if (strcmp(mode, "udp") == 0) return runUdp();
    if (strcmp(mode, "idle") == 0) return runIdle();
    if (strcmp(mode, "bulk") == 0) return runBulk();
    if (strcmp(mode, "echo-server") == 0) return runStreamServer(serveEcho);
    if (strcmp(mode, "source-server") == 0) return runStreamServer(serveSource);
    if (strcmp(mode, "udp-echo-server") == 0) return runUdpEchoServer();
    if (strcmp(mode, "tls-echo-server") == 0) {
        useServerContext();
        return runStreamServer(serveTlsEcho);
    }
    if (strcmp(mode, "tls-source-server") == 0) {
        useServerContext();
        return runStreamServer(serveTlsSource);
    }
    usage();
    return 2;
}
