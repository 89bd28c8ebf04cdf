/* echo_load PORT CONNECTIONS SECONDS: CONNECTIONS TCP connections to 127.0.0.1:PORT, each sending 64 bytes
   and waiting for all 64 to come back before the next (a round trip), all driven from one epoll loop.
   Prints "ready" once connected, waits for a line on stdin, runs SECONDS, prints the round trips made. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE 64

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: echo_load PORT CONNECTIONS SECONDS\n"); return 2; }
    int port = atoi(argv[1]), n = atoi(argv[2]);
    double seconds = atof(argv[3]);
    char out[SIZE], in[SIZE];
    memset(out, 'm', SIZE);
    int *got = calloc(n, sizeof *got), *fds = calloc(n, sizeof *fds);
    int ep = epoll_create1(0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    for (int i = 0; i < n; i++) {
        int one = 1;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 1; }
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 1;
    long trips = 0;
    for (int i = 0; i < n; i++)
        if (send(fds[i], out, SIZE, 0) != SIZE) { perror("send"); return 1; }
    double end = now() + seconds;
    struct epoll_event events[64];
    while (now() < end) {
        int ready = epoll_wait(ep, events, 64, 100);
        for (int k = 0; k < ready; k++) {
            int i = events[k].data.u32;
            ssize_t r = recv(fds[i], in, SIZE - got[i], 0);
            if (r <= 0) { fprintf(stderr, "recv: %s\n", r ? strerror(errno) : "closed"); return 1; }
            got[i] += r;
            if (got[i] == SIZE) {
                got[i] = 0;
                trips++;
                if (send(fds[i], out, SIZE, 0) != SIZE) { perror("send"); return 1; }
            }
        }
    }
    /* every connection has one round trip in flight: let it come back before closing, so neither side
       meets a reset */
    int open = n;
    double drain = now() + 5;
    while (open > 0 && now() < drain) {
        int ready = epoll_wait(ep, events, 64, 100);
        for (int k = 0; k < ready; k++) {
            int i = events[k].data.u32;
            ssize_t r = recv(fds[i], in, SIZE - got[i], 0);
            if (r <= 0) { open--; epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL); continue; }
            got[i] += r;
            if (got[i] == SIZE) { open--; epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL); }
        }
    }
    printf("%ld\n", trips);
    for (int i = 0; i < n; i++) close(fds[i]);
    return 0;
}
