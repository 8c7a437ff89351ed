/*
 * netrosetta load generator: epoll, one thread, no allocation on the hot path.
 *
 * The benchmark's client must outrun every server it measures, so it is written in C and does as
 * little as it can per request: one send, one recv into a preallocated buffer, one memcmp.
 * It prints one JSON object on stdout (the bench reads it) and reports its own CPU time, so a
 * saturated client can be seen rather than guessed.
 *
 * Modes (all take --host H --ports P1[,P2...]; connections are spread round-robin over the ports):
 *   pingpong  C connections each send an M-byte message and wait for the whole echo, then repeat,
 *             for D seconds or N requests (the vmbench method). --tagged: the server is multiport,
 *             whose answer is "<port> <line>" (the message is then a line ending in LF).
 *   http      C connections each send a GET and read the whole response (Content-Length framed),
 *             then repeat on the same connection (keep-alive) or, with --close, on a new one, after
 *             reading to the server's close (so TIME_WAIT lands on the server, as with real clients).
 *   stream    one connection sends --total bytes as fast as the server takes them while reading the
 *             echo back as it comes (full duplex, not in step), then closes once all is back.
 *   hold      only the idle connections: open --idle connections, use each once (--http: one GET
 *             each), hold them open for D seconds (to sit beside wrk). With --until-eof, print a first
 *             JSON line {"held": ...} once all are settled, then hold them until stdin reaches EOF
 *             (D seconds at most): the bench reads the server's memory in between.
 * --idle I opens I extra connections first, uses each once (so the server has really accepted
 * them), then holds them open, idle, during the load. Connections the server refuses or drops are
 * counted, never hidden. At most IDLE_IN_FLIGHT of them are opening at a time: thousands of SYNs at
 * once would overflow the server's listen queue and wait on SYN retries (1 s, 3 s, 7 s...).
 *
 * Build: cc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define IDLE_IN_FLIGHT 256
#define PATTERN_PERIOD 251
#define HTTP_BUF 65536
/* Latency histogram: 1 us buckets up to 100 ms, then 100 us buckets up to 10 s, then overflow. */
#define FINE_US 100000
#define COARSE_STEP 100
#define COARSE_BUCKETS 99000
#define BUCKETS (FINE_US + COARSE_BUCKETS + 1)

enum mode { PINGPONG, HTTP, STREAM, HOLD };
enum state { CONNECTING, SENDING, RECEIVING, IDLE, CLOSED };
enum error_kind { E_CONNECT, E_RESET, E_EOF, E_MISMATCH, E_TIMEOUT, E_STATUS, E_FRAMING, E_KINDS };
static const char *error_names[E_KINDS] = {"connect", "reset", "eof", "mismatch", "timeout",
                                           "status", "framing"};

struct conn {
    int fd;
    int port_index;
    int idle;            /* one of the held-open idle connections */
    enum state state;
    size_t sent, got;    /* progress of the current request */
    size_t expect;       /* reply length, once known (http: after the header) */
    size_t header_len;
    uint64_t started_ns;
    unsigned char *rbuf; /* http only */
};

static struct {
    enum mode mode;
    const char *host;
    int ports[MAX_PORTS];
    int nports;
    int conns;
    size_t size;
    double duration;
    long long requests_limit;
    int idle;
    int tagged;
    int close_each;
    size_t total;
    double timeout;
    const char *path;
    int http_idle;
    int until_eof;
} opt = {PINGPONG, "127.0.0.1", {0}, 0, 10, 1024, 2.0, 0, 0, 0, 0, 64 << 20, 10.0, "/bench?x=1", 0, 0};

static int ep;
static struct conn *conns;
static int nconns;
static unsigned char *pattern;   /* PATTERN_PERIOD-periodic bytes, long enough for any offset */
static size_t pattern_len;
static unsigned char *expected[MAX_PORTS]; /* tagged: "<port> " + message, per port */
static size_t expected_len[MAX_PORTS];
static char request[1024];
static size_t request_len;
static unsigned char *scratch;
static size_t scratch_len = 1 << 18;

static uint64_t *hist;
static long long requests_done, requests_started, bytes_done;
static long long errors[E_KINDS];
static int idle_open, idle_failed, idle_dropped;
static int running = 1;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record_latency(uint64_t ns) {
    uint64_t us = ns / 1000;
    size_t bucket;
    if (us < FINE_US) bucket = us;
    else if (us < FINE_US + (uint64_t)COARSE_STEP * COARSE_BUCKETS) bucket = FINE_US + (us - FINE_US) / COARSE_STEP;
    else bucket = BUCKETS - 1;
    hist[bucket]++;
}

static double bucket_value(size_t bucket) {
    if (bucket < FINE_US) return (double)bucket;
    return (double)(FINE_US + (bucket - FINE_US) * COARSE_STEP);
}

static double percentile(double p) {
    long long total = 0, seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) total += hist[i];
    if (!total) return -1;
    long long rank = (long long)(p / 100.0 * (double)total + 0.5);
    if (rank < 1) rank = 1;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += hist[i];
        if (seen >= rank) return bucket_value(i);
    }
    return bucket_value(BUCKETS - 1);
}

static const unsigned char *message_for(struct conn *c, size_t *len) {
    *len = opt.mode == HTTP ? request_len : opt.size;
    (void)c;
    return opt.mode == HTTP ? (const unsigned char *)request : pattern;
}

static void fail(struct conn *c, enum error_kind kind);
static void start_request(struct conn *c);

static void set_events(struct conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int open_conn(struct conn *c) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(opt.ports[c->port_index])};
    inet_pton(AF_INET, opt.host, &addr.sin_addr);
    if (opt.mode == HTTP && !c->rbuf) c->rbuf = malloc(HTTP_BUF);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { perror("socket"); return -1; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONNECTING;
    c->sent = c->got = c->expect = c->header_len = 0;
    c->started_ns = now_ns();
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        c->state = CLOSED;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void close_conn(struct conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = CLOSED;
}

static void reopen(struct conn *c) {
    if (!running || c->idle) return;
    if (open_conn(c) < 0) { errors[E_CONNECT]++; }
}

static void fail(struct conn *c, enum error_kind kind) {
    if (c->idle) {
        if (c->state == IDLE) { idle_dropped++; idle_open--; }
        else idle_failed++;
        close_conn(c);
        return;
    }
    errors[kind]++;
    close_conn(c);
    long long total = 0;
    for (int i = 0; i < E_KINDS; i++) total += errors[i];
    if (total > 100000) running = 0; /* a broken server: stop rather than spin */
    reopen(c);
}

static void start_request(struct conn *c) {
    if (!c->idle) {
        if (!running || (opt.requests_limit && requests_started >= opt.requests_limit)) {
            c->state = IDLE;
            set_events(c, EPOLLIN);
            return;
        }
        requests_started++;
    }
    c->state = SENDING;
    c->sent = c->got = c->expect = c->header_len = 0;
    if (opt.mode != HTTP || !opt.close_each) c->started_ns = now_ns();
    if (opt.mode == PINGPONG)
        c->expect = opt.tagged ? expected_len[c->port_index] : opt.size;
    set_events(c, EPOLLOUT);
}

static void finish_request(struct conn *c) {
    if (c->idle) {
        c->state = IDLE;
        idle_open++;
        set_events(c, EPOLLIN);
        return;
    }
    record_latency(now_ns() - c->started_ns);
    requests_done++;
    bytes_done += (long long)(c->sent + c->got);
    if (opt.mode == HTTP && opt.close_each) {
        close_conn(c);
        if (running && !(opt.requests_limit && requests_started >= opt.requests_limit)) reopen(c);
        return;
    }
    start_request(c);
}

/* HTTP: once the header is in, find the status and the body length. */
static int parse_header(struct conn *c) {
    unsigned char *end = memmem(c->rbuf, c->got, "\r\n\r\n", 4);
    if (!end) {
        if (c->got >= HTTP_BUF) return -1;
        return 0;
    }
    c->header_len = (size_t)(end - c->rbuf) + 4;
    if (c->got < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0) return -1;
    if (memcmp(c->rbuf + 9, "200", 3) != 0) return -2;
    const char *p = c->rbuf[0] ? (const char *)c->rbuf : "";
    const char *h = p;
    long length = -1;
    while ((h = strstr(h, "\r\n")) && h < (const char *)end) {
        h += 2;
        if (strncasecmp(h, "content-length:", 15) == 0) length = strtol(h + 15, NULL, 10);
    }
    if (length < 0) return -1;
    c->expect = c->header_len + (size_t)length;
    return 1;
}

static void on_readable(struct conn *c) {
    for (;;) {
        unsigned char *into;
        size_t room;
        if (opt.mode == HTTP) {
            if (c->state == IDLE && !c->idle) { into = scratch; room = scratch_len; }
            else if (c->got >= HTTP_BUF) { into = scratch; room = scratch_len; }
            else { into = c->rbuf + c->got; room = HTTP_BUF - c->got; }
        } else {
            into = scratch;
            room = scratch_len;
        }
        ssize_t n = recv(c->fd, into, room, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            fail(c, E_RESET);
            return;
        }
        if (c->state == IDLE) {
            /* data or EOF on a connection that asked for nothing */
            if (n == 0) { if (c->idle) { idle_dropped++; idle_open--; } close_conn(c); return; }
            if (c->idle) { idle_dropped++; idle_open--; close_conn(c); return; }
            continue;
        }
        if (n == 0) {
            if (opt.mode == HTTP && opt.close_each && c->expect && c->got >= c->expect) {
                finish_request(c);
                return;
            }
            fail(c, E_EOF);
            return;
        }
        if (opt.mode == PINGPONG) {
            const unsigned char *want = opt.tagged ? expected[c->port_index] : pattern;
            if (c->got + (size_t)n > c->expect || memcmp(want + c->got, into, (size_t)n) != 0) {
                fail(c, E_MISMATCH);
                return;
            }
            c->got += (size_t)n;
            if (c->got == c->expect) { finish_request(c); return; }
            continue;
        }
        /* HTTP */
        c->got += (size_t)n;
        if (!c->expect) {
            int r = parse_header(c);
            if (r == -2) { fail(c, E_STATUS); return; }
            if (r < 0) { fail(c, E_FRAMING); return; }
        }
        if (c->expect && c->got > c->expect) { fail(c, E_FRAMING); return; }
        if (c->expect && c->got == c->expect && !(opt.close_each && !c->idle)) {
            finish_request(c);
            return;
        }
    }
}

static void on_writable(struct conn *c) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) { fail(c, E_CONNECT); return; }
        start_request(c); /* with --close, the latency counts the connect too */
        if (c->state != SENDING) return;
    }
    size_t len;
    const unsigned char *msg = message_for(c, &len);
    while (c->sent < len) {
        ssize_t n = send(c->fd, msg + c->sent, len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            fail(c, E_RESET);
            return;
        }
        c->sent += (size_t)n;
    }
    c->state = RECEIVING;
    set_events(c, EPOLLIN);
}

static int parse_ports(const char *text) {
    char *copy = strdup(text), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (opt.nports == MAX_PORTS) break;
        opt.ports[opt.nports++] = atoi(tok);
    }
    free(copy);
    return opt.nports;
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen pingpong|http|stream|hold --ports P[,P...] [--host H] [--conns C] "
                    "[--size M] [--duration D] [--requests N] [--idle I] [--tagged] [--close] "
                    "[--http] [--until-eof] [--total BYTES] [--timeout S] [--path P]\n");
    exit(2);
}

static double cpu_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static void print_result(double elapsed) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long total_errors = 0;
    for (int i = 0; i < E_KINDS; i++) total_errors += errors[i];
    static const char *names[] = {"pingpong", "http", "stream", "hold"};
    printf("{\"mode\": \"%s\", \"requests\": %lld, \"bytes\": %lld, \"elapsed\": %.6f, \"errors\": %lld, "
           "\"error_kinds\": {", names[opt.mode], requests_done, bytes_done, elapsed, total_errors);
    for (int i = 0; i < E_KINDS; i++) printf("%s\"%s\": %lld", i ? ", " : "", error_names[i], errors[i]);
    printf("}, \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f}, ",
           percentile(50), percentile(90), percentile(99), percentile(100));
    printf("\"idle_requested\": %d, \"idle_open\": %d, \"idle_failed\": %d, \"idle_dropped\": %d, ",
           opt.idle, idle_open, idle_failed, idle_dropped);
    printf("\"cpu_user\": %.6f, \"cpu_sys\": %.6f}\n", cpu_seconds(ru.ru_utime), cpu_seconds(ru.ru_stime));
    fflush(stdout);
}

static void check_timeouts(uint64_t t) {
    uint64_t limit = (uint64_t)(opt.timeout * 1e9);
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->fd < 0 || c->state == IDLE) continue;
        if (t - c->started_ns > limit) fail(c, E_TIMEOUT);
    }
}

static void dispatch(struct epoll_event *events, int n) {
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        if (c->fd < 0) continue;
        uint32_t e = events[i].events;
        if (c->state == CONNECTING || c->state == SENDING) {
            if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(c);
        } else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            on_readable(c);
        }
    }
}

/* Open the idle connections, use each once, and wait until all are settled (bounded). */
static void open_idle(void) {
    struct epoll_event events[256];
    uint64_t deadline = now_ns() + (uint64_t)(opt.timeout * 1e9);
    int opened = 0;
    while (idle_open + idle_failed + idle_dropped < opt.idle && now_ns() < deadline) {
        while (opened < opt.idle && opened - (idle_open + idle_failed + idle_dropped) < IDLE_IN_FLIGHT) {
            struct conn *c = &conns[nconns++];
            c->idle = 1;
            c->port_index = opened++ % opt.nports;
            if (open_conn(c) < 0) idle_failed++;
        }
        int n = epoll_wait(ep, events, 256, 50);
        dispatch(events, n > 0 ? n : 0);
    }
    idle_failed += opt.idle - opened; /* never opened: the deadline came first */
    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0 && conns[i].state != IDLE) { close_conn(&conns[i]); idle_failed++; }
}

static int run_stream(void) {
    struct conn *c = &conns[nconns++];
    c->port_index = 0;
    if (open_conn(c) < 0) { errors[E_CONNECT]++; return 1; }
    size_t chunk = 1 << 18;
    size_t sent = 0, got = 0;
    int connected = 0, shut = 0;
    uint64_t start = now_ns(), deadline = start + (uint64_t)(opt.timeout * 1e9);
    uint64_t last_progress = start;
    struct epoll_event events[4];
    set_events(c, EPOLLOUT | EPOLLIN);
    while (got < opt.total) {
        int n = epoll_wait(ep, events, 4, 50);
        uint64_t t = now_ns();
        if (t - last_progress > (uint64_t)(opt.timeout * 1e9) || (opt.duration > 0 && t > deadline + (uint64_t)(opt.duration * 1e9) * 100)) {
            errors[E_TIMEOUT]++;
            break;
        }
        if (n <= 0) continue;
        uint32_t e = events[0].events;
        if (!connected) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) { errors[E_CONNECT]++; break; }
            connected = 1;
        }
        if ((e & EPOLLOUT) && sent < opt.total) {
            size_t want = opt.total - sent < chunk ? opt.total - sent : chunk;
            ssize_t w = send(c->fd, pattern + (sent % PATTERN_PERIOD), want, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) { errors[E_RESET]++; break; }
            if (w > 0) { sent += (size_t)w; last_progress = t; }
            if (sent == opt.total && !shut) {
                /* no half-close: this measures throughput, the conformance suite checks half-close */
                shut = 1;
                set_events(c, EPOLLIN);
            }
        }
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            for (;;) {
                ssize_t r = recv(c->fd, scratch, scratch_len, 0);
                if (r < 0) {
                    if (errno != EAGAIN) { errors[E_RESET]++; goto done; }
                    break;
                }
                if (r == 0) { if (got < opt.total) errors[E_EOF]++; goto done; }
                if (got + (size_t)r > opt.total ||
                    memcmp(scratch, pattern + (got % PATTERN_PERIOD), (size_t)r) != 0) {
                    errors[E_MISMATCH]++;
                    goto done;
                }
                got += (size_t)r;
                last_progress = t;
            }
        }
    }
done:
    {
        double elapsed = (double)(now_ns() - start) / 1e9;
        if (got == opt.total) { requests_done = 1; record_latency(now_ns() - start); }
        bytes_done = (long long)got;
        close_conn(c);
        print_result(elapsed);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    if (!strcmp(argv[1], "pingpong")) opt.mode = PINGPONG;
    else if (!strcmp(argv[1], "http")) opt.mode = HTTP;
    else if (!strcmp(argv[1], "stream")) opt.mode = STREAM;
    else if (!strcmp(argv[1], "hold")) opt.mode = HOLD;
    else usage();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tagged")) { opt.tagged = 1; continue; }
        if (!strcmp(a, "--close")) { opt.close_each = 1; continue; }
        if (!strcmp(a, "--http")) { opt.http_idle = 1; continue; }
        if (!strcmp(a, "--until-eof")) { opt.until_eof = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--host")) opt.host = v;
        else if (!strcmp(a, "--ports")) parse_ports(v);
        else if (!strcmp(a, "--conns")) opt.conns = atoi(v);
        else if (!strcmp(a, "--size")) opt.size = (size_t)atoll(v);
        else if (!strcmp(a, "--duration")) opt.duration = atof(v);
        else if (!strcmp(a, "--requests")) opt.requests_limit = atoll(v);
        else if (!strcmp(a, "--idle")) opt.idle = atoi(v);
        else if (!strcmp(a, "--total")) opt.total = (size_t)atoll(v);
        else if (!strcmp(a, "--timeout")) opt.timeout = atof(v);
        else if (!strcmp(a, "--path")) opt.path = v;
        else usage();
    }
    if (!opt.nports || opt.size < 1 || opt.conns < 0) usage();
    if (opt.tagged && opt.size < 2) usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

    pattern_len = (opt.size > (1u << 18) ? opt.size : (1u << 18)) + PATTERN_PERIOD;
    pattern = malloc(pattern_len);
    for (size_t i = 0; i < pattern_len; i++) pattern[i] = (unsigned char)('a' + (i % PATTERN_PERIOD) % 26);
    if (opt.tagged) {
        /* a line: no LF inside, LF at the end; the answer is "<port> " + line */
        pattern[opt.size - 1] = '\n';
        for (int p = 0; p < opt.nports; p++) {
            char prefix[16];
            int k = snprintf(prefix, sizeof prefix, "%d ", opt.ports[p]);
            expected[p] = malloc((size_t)k + opt.size);
            memcpy(expected[p], prefix, (size_t)k);
            memcpy(expected[p] + k, pattern, opt.size);
            expected_len[p] = (size_t)k + opt.size;
        }
    }
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n",
                                   opt.path, opt.host, opt.ports[0],
                                   opt.close_each ? "Connection: close\r\n" : "");
    scratch = malloc(scratch_len);
    hist = calloc(BUCKETS, sizeof *hist);
    ep = epoll_create1(EPOLL_CLOEXEC);
    int active = opt.mode == STREAM ? 1 : (opt.mode == HOLD ? 0 : opt.conns);
    conns = calloc((size_t)(active + opt.idle + 1), sizeof *conns);
    for (int i = 0; i < active + opt.idle + 1; i++) conns[i].fd = -1;

    /* idle keep-alive connections must not carry Connection: close */
    int close_each = opt.close_each;
    opt.close_each = 0;
    char saved[1024];
    memcpy(saved, request, sizeof saved);
    size_t saved_len = request_len;
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                                   opt.path, opt.host, opt.ports[0]);
    if (opt.idle) {
        enum mode m = opt.mode;
        if (m == STREAM || m == HOLD) opt.mode = opt.http_idle ? HTTP : PINGPONG;
        open_idle();
        opt.mode = m;
    }
    opt.close_each = close_each;
    memcpy(request, saved, sizeof saved);
    request_len = saved_len;

    if (opt.mode == STREAM) return run_stream();

    for (int i = 0; i < active; i++) {
        struct conn *c = &conns[nconns++];
        c->port_index = i % opt.nports;
        if (open_conn(c) < 0) errors[E_CONNECT]++;
    }
    if (opt.until_eof) {
        printf("{\"held\": %d, \"idle_failed\": %d, \"idle_dropped\": %d}\n", idle_open, idle_failed,
               idle_dropped);
        fflush(stdout);
    }
    uint64_t start = now_ns();
    uint64_t end = start + (uint64_t)(opt.duration * 1e9);
    uint64_t hard_end = opt.requests_limit ? start + (uint64_t)(opt.timeout * 3e9) : end;
    if (opt.requests_limit) end = hard_end;
    struct epoll_event *events = calloc(1024, sizeof *events);
    uint64_t last_check = start;
    while (running) {
        int n = epoll_wait(ep, events, 1024, 20);
        if (n > 0) dispatch(events, n);
        uint64_t t = now_ns();
        if (t >= end) break;
        if (opt.requests_limit && requests_done >= opt.requests_limit) break;
        if (t - last_check > 100000000ull) { check_timeouts(t); last_check = t; }
        if (opt.until_eof) {
            struct pollfd in = {.fd = 0, .events = POLLIN};
            char byte[64];
            if (poll(&in, 1, 0) > 0 && read(0, byte, sizeof byte) <= 0) break;
        }
    }
    if (opt.requests_limit && requests_done < opt.requests_limit && now_ns() >= hard_end)
        errors[E_TIMEOUT] += opt.requests_limit - requests_done;
    double elapsed = (double)(now_ns() - start) / 1e9;
    print_result(elapsed);
    return 0;
}
