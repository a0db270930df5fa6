/*
 * The clients of bench/fanout.ts: one process holding every stream, one
 * non-blocking socket each on one epoll loop, so the client costs a few
 * hundred nanoseconds per delivery and the server is what is measured.
 * JavaScript clients (bench/_topics_client.ts) cost more per event than
 * some of the servers they would be timing.
 *
 * Built by bench/fanout.ts: `gcc -O2 -o .build/fanout_client
 * bench/fanout_client.c`; run as `fanout_client <port> <path>`.
 *
 * It decodes each response by hand: the head (status 200 wanted), chunked
 * framing when the head says so, and the SSE lines of the body. Every
 * event's data is `<sequence> <publish time, µs since the epoch>`, possibly
 * as a JSON string (better-sse); every stream must see 0, 1, 2, … with
 * nothing missing or repeated. Latency is arrival minus publish time, both
 * read from CLOCK_REALTIME on the same machine.
 *
 * Commands, one per line on stdin; one JSON line answers each on stdout:
 *
 * - `connect <n>`: opens n streams (at most CONNECTING at once); answers
 *   once every response head has come: `{ok, opened, failed, ms}`.
 * - `reset`: forgets latencies, comment counts and arrival times.
 * - `expect <total> <timeout ms>`: waits until every stream has events
 *   0 … total-1 (or the timeout), then answers the check (missing,
 *   repeated, closed streams), the latencies since `reset` (p50, p99, max,
 *   ms), the first and last arrival (µs since the epoch) and the fewest
 *   `:` comments any stream got since `reset`.
 * - `quit`.
 *
 * One file, C99 + Linux epoll, no dependencies.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECTING 256
#define HEAD_MAX 4096
#define LINE_MAX_CHARS 512
#define STDIN_TAG UINT64_MAX

enum phase { CONNECT, HEAD, BODY, CLOSED };
enum chunk { SIZE, SIZE_END, DATA, DATA_CR, DATA_LF };

struct stream {
  int fd;
  enum phase phase;
  int chunked;
  enum chunk chunk;
  long left;
  int head_len;
  char *head; /* freed once the head is in */
  int line_len;
  char line[LINE_MAX_CHARS];
  int has_data;
  long data_seq;
  double data_time;
  long next;   /* the sequence this stream expects */
  long comments;
};

static struct stream *streams;
static int count, opened, failed, heads, connecting, next_to_open, target_open;
static int epoll_fd;
static uint16_t port;
static char request[512];
static int request_len;
/* What a check found since the last `reset` or `expect`. */
static long missing, repeated, malformed;
static double *latencies;
static size_t latency_count, latency_cap;
static double first_arrival, last_arrival;
static long expect_total = -1;
static int done_streams;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void record(double latency_ms) {
  if (latency_count == latency_cap) {
    latency_cap = latency_cap ? latency_cap * 2 : 1 << 16;
    latencies = realloc(latencies, latency_cap * sizeof(double));
    if (!latencies) abort();
  }
  latencies[latency_count++] = latency_ms;
}

static void close_stream(struct stream *s) {
  if (s->phase == CLOSED) return;
  if (s->phase == CONNECT) connecting--;
  if (s->phase == CONNECT || s->phase == HEAD) failed++;
  /* An `expect` under way stops waiting for it; answer_expect counts what
     it missed. */
  if (expect_total >= 0 && s->next < expect_total) done_streams++;
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  free(s->head);
  s->head = NULL;
  s->phase = CLOSED;
}

static void dispatch(struct stream *s, double arrival) {
  if (!s->has_data) return;
  s->has_data = 0;
  long seq = s->data_seq;
  if (seq == s->next) {
    s->next++;
  } else if (seq < s->next) {
    repeated++;
    return;
  } else {
    missing += seq - s->next;
    s->next = seq + 1;
  }
  if (expect_total >= 0 && s->next == expect_total) done_streams++;
  record((arrival - s->data_time) / 1e3);
  if (first_arrival == 0) first_arrival = arrival;
  last_arrival = arrival;
}

/* One SSE line (without its line end). */
static void line(struct stream *s, double arrival) {
  const char *text = s->line;
  int len = s->line_len;
  if (len == 0) return dispatch(s, arrival);
  if (text[0] == ':') {
    s->comments++;
    return;
  }
  if (len < 5 || memcmp(text, "data:", 5) != 0) return; /* id, event, retry */
  const char *p = text + 5;
  const char *end = text + len;
  if (p < end && *p == ' ') p++;
  if (p < end && *p == '"') p++;
  char *after;
  long seq = strtol(p, &after, 10);
  if (after == p || after >= end || *after != ' ') {
    malformed++;
    return;
  }
  double t = strtod(after + 1, NULL);
  s->has_data = 1;
  s->data_seq = seq;
  s->data_time = t;
}

static void body(struct stream *s, const char *data, size_t n, double arrival) {
  for (size_t i = 0; i < n; i++) {
    char c = data[i];
    if (c == '\n') {
      if (s->line_len > 0 && s->line[s->line_len - 1] == '\r') s->line_len--;
      line(s, arrival);
      s->line_len = 0;
    } else if (s->line_len < LINE_MAX_CHARS) {
      s->line[s->line_len++] = c;
    } else {
      malformed++;
      s->line_len = 0;
    }
  }
}

static void chunked(struct stream *s, const char *data, size_t n,
                    double arrival) {
  size_t i = 0;
  while (i < n) {
    switch (s->chunk) {
    case SIZE: {
      char c = data[i++];
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit >= 0) s->left = s->left * 16 + digit;
      else if (c == '\n') s->chunk = s->left ? DATA : SIZE_END;
      else s->chunk = SIZE_END; /* \r or an extension */
      if (s->chunk == SIZE_END && c == '\n') {
        /* The last chunk: the body has ended. */
        close_stream(s);
        return;
      }
      break;
    }
    case SIZE_END:
      if (data[i++] == '\n') {
        if (s->left == 0) {
          close_stream(s);
          return;
        }
        s->chunk = DATA;
      }
      break;
    case DATA: {
      size_t take = n - i < (size_t)s->left ? n - i : (size_t)s->left;
      body(s, data + i, take, arrival);
      i += take;
      s->left -= take;
      if (s->left == 0) s->chunk = DATA_CR;
      break;
    }
    case DATA_CR:
      i++;
      s->chunk = DATA_LF;
      break;
    case DATA_LF:
      i++;
      s->chunk = SIZE;
      s->left = 0;
      break;
    }
  }
}

static void received(struct stream *s, const char *data, size_t n,
                     double arrival) {
  if (s->phase == HEAD) {
    size_t i = 0;
    while (i < n && s->phase == HEAD) {
      if (s->head_len == HEAD_MAX) {
        close_stream(s);
        return;
      }
      s->head[s->head_len++] = data[i++];
      if (s->head_len >= 4 &&
          memcmp(s->head + s->head_len - 4, "\r\n\r\n", 4) == 0) {
        s->head[s->head_len] = 0;
        if (strncmp(s->head, "HTTP/1.1 200", 12) != 0) {
          close_stream(s);
          return;
        }
        s->chunked = strcasestr(s->head, "\r\ntransfer-encoding: chunked") != NULL;
        free(s->head);
        s->head = NULL;
        s->phase = BODY;
        heads++;
      }
    }
    data += i;
    n -= i;
  }
  if (n == 0 || s->phase != BODY) return;
  if (s->chunked) chunked(s, data, n, arrival);
  else body(s, data, n, arrival);
}

static void open_one(void) {
  struct stream *s = &streams[next_to_open++];
  memset(s, 0, sizeof *s);
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (s->fd < 0) {
    s->phase = CLOSED;
    failed++;
    return;
  }
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->phase = CONNECT;
  connecting++;
  s->head = malloc(HEAD_MAX + 1);
  int rc = connect(s->fd, (struct sockaddr *)&address, sizeof address);
  if (rc < 0 && errno != EINPROGRESS) {
    close(s->fd);
    s->phase = CLOSED;
    connecting--;
    failed++;
    return;
  }
  struct epoll_event event = {.events = EPOLLOUT | EPOLLIN,
                              .data.u64 = (uint64_t)(s - streams)};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &event);
}

static void connected(struct stream *s) {
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0 || write(s->fd, request, request_len) != request_len) {
    close_stream(s);
    return;
  }
  connecting--;
  opened++;
  s->phase = HEAD;
  struct epoll_event event = {.events = EPOLLIN,
                              .data.u64 = (uint64_t)(s - streams)};
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &event);
}

static char buffer[1 << 16];

static void readable(struct stream *s) {
  for (;;) {
    ssize_t n = read(s->fd, buffer, sizeof buffer);
    if (n > 0) {
      received(s, buffer, (size_t)n, now_us());
      if (s->phase == CLOSED) return;
      if ((size_t)n < sizeof buffer) return;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      close_stream(s);
      return;
    } else if (errno == EAGAIN) {
      return;
    }
  }
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(double p) {
  if (latency_count == 0) return 0;
  size_t rank = (size_t)(p * latency_count + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > latency_count) rank = latency_count;
  return latencies[rank - 1];
}

static void answer_expect(long total) {
  long closed = 0, min_comments = -1;
  for (int i = 0; i < count; i++) {
    struct stream *s = &streams[i];
    if (s->phase == CLOSED) closed++;
    if (s->next < total) missing += total - s->next;
    if (min_comments < 0 || s->comments < min_comments)
      min_comments = s->comments;
  }
  qsort(latencies, latency_count, sizeof(double), compare);
  printf("{\"ok\":true,\"events\":%zu,\"missing\":%ld,\"repeated\":%ld,"
         "\"malformed\":%ld,\"closed\":%ld,\"p50\":%.3f,\"p99\":%.3f,"
         "\"max\":%.3f,\"first\":%.0f,\"last\":%.0f,\"minComments\":%ld}\n",
         latency_count, missing, repeated, malformed, closed, quantile(0.5),
         quantile(0.99), latency_count ? latencies[latency_count - 1] : 0,
         first_arrival, last_arrival, min_comments < 0 ? 0 : min_comments);
  fflush(stdout);
  missing = repeated = malformed = 0;
  /* A stream short of `total` is counted once: it is brought level. */
  for (int i = 0; i < count; i++) {
    if (streams[i].next < total) streams[i].next = total;
  }
}

static void reset(void) {
  latency_count = 0;
  first_arrival = last_arrival = 0;
  for (int i = 0; i < count; i++) streams[i].comments = 0;
}

/* Waiting commands: 0 none, 1 connect, 2 expect. */
static int waiting;
static double deadline, started;

static void command(char *text) {
  long a = 0, b = 0;
  if (sscanf(text, "connect %ld", &a) == 1) {
    streams = realloc(streams, (count + a) * sizeof *streams);
    if (!streams) abort();
    target_open = count + (int)a;
    count += (int)a;
    started = monotonic_ms();
    waiting = 1;
  } else if (strncmp(text, "reset", 5) == 0) {
    reset();
    printf("{\"ok\":true}\n");
    fflush(stdout);
  } else if (sscanf(text, "expect %ld %ld", &a, &b) == 2) {
    expect_total = a;
    done_streams = 0;
    for (int i = 0; i < count; i++) {
      if (streams[i].phase == CLOSED || streams[i].next >= a) done_streams++;
    }
    deadline = monotonic_ms() + (double)b;
    waiting = 2;
  } else if (strncmp(text, "quit", 4) == 0) {
    exit(0);
  } else {
    printf("{\"ok\":false,\"error\":\"unknown command\"}\n");
    fflush(stdout);
  }
}

static char input[4096];
static size_t input_len;

static void read_stdin(void) {
  ssize_t n = read(0, input + input_len, sizeof input - input_len - 1);
  if (n <= 0) exit(0); /* the harness went away */
  input_len += (size_t)n;
  char *newline;
  while ((newline = memchr(input, '\n', input_len)) != NULL) {
    *newline = 0;
    command(input);
    size_t used = (size_t)(newline - input) + 1;
    memmove(input, input + used, input_len - used);
    input_len -= used;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fanout_client <port> <path>\n");
    return 2;
  }
  port = (uint16_t)atoi(argv[1]);
  request_len = snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                         "Accept: text/event-stream\r\n\r\n",
                         argv[2], port);
  epoll_fd = epoll_create1(0);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = STDIN_TAG};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, 0, &in);
  printf("ready\n");
  fflush(stdout);
  struct epoll_event events[1024];
  for (;;) {
    while (waiting == 1 && next_to_open < target_open &&
           connecting < CONNECTING) {
      open_one();
    }
    if (waiting == 1 && next_to_open == target_open && connecting == 0 &&
        heads + failed >= count) {
      printf("{\"ok\":true,\"opened\":%d,\"failed\":%d,\"ms\":%.1f}\n", heads,
             failed, monotonic_ms() - started);
      fflush(stdout);
      waiting = 0;
    }
    if (waiting == 2 &&
        (done_streams >= count || monotonic_ms() >= deadline)) {
      answer_expect(expect_total);
      expect_total = -1;
      waiting = 0;
    }
    int timeout = waiting == 2 ? 10 : 100;
    int n = epoll_wait(epoll_fd, events, 1024, timeout);
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64;
      if (tag == STDIN_TAG) {
        read_stdin();
        continue;
      }
      struct stream *s = &streams[tag];
      if (s->phase == CONNECT) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(s);
        continue;
      }
      if (s->phase != CLOSED) readable(s);
    }
  }
}
