/*
 * free_port.c -- prints a TCP port of 127.0.0.1 that is free right now
 * (the kernel's choice for a bind to port 0), for tests that must name a
 * port in a server's configuration (mosquitto). The port is released
 * before the server binds it: a test retries if another process took it
 * meanwhile.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		perror("free_port");
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(a.sin_port));
	close(s);
	return 0;
}
