/* The app side of the security tests: attach to a socket and report why it failed, or listen
 * on a service and report the completion's status.
 *   sec_pony connect PATH           exit 0 attached, 3 refused (reason on stderr)
 *   sec_pony listen PATH SERVICE    exit 0 listening, 5 -EACCES, 1 other failure
 * PATH "default" connects with pony_connect(NULL, NULL): libpony's default socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pony.h>

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "listen") == 0 && argc < 4)) {
		fprintf(stderr, "usage: sec_pony connect PATH | listen PATH SERVICE\n");
		return 2;
	}
	struct pony_app *a = pony_connect(strcmp(argv[2], "default") ? argv[2] : NULL, NULL);
	if (a == NULL) {
		fprintf(stderr, "refused (%s): %s\n", strerror(errno), pony_connect_error());
		return 3;
	}
	int rc = 0;
	if (strcmp(argv[1], "listen") == 0) {
		unsigned long svc = strtoul(argv[3], NULL, 10);
		int r = pony_listen(a, (uint16_t)svc, 1);
		struct pony_completion c = {0};
		/* Bounded: at most 5 s of waiting for the listen's completion. */
		for (int i = 0; r == 0 && i < 50; i++) {
			pony_wait(a, 100);
			if (pony_poll(a, &c, 1) == 1 && c.op == PONY_OP_LISTEN)
				break;
		}
		int st = r ? r : c.op == PONY_OP_LISTEN ? c.status : -ETIMEDOUT;
		printf("listen %lu: %s\n", svc, st ? pony_strerror(st) : "ok");
		rc = st == 0 ? 0 : st == -EACCES ? 5 : 1;
	} else {
		printf("attached\n");
	}
	pony_close(a);
	return rc;
}
