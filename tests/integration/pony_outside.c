/* An "outside" program built only from an installed libpony via pkg-config (see
 * test_pony_pkgconfig.sh): checks the public header compiles standalone and that the
 * library reports a missing daemon clearly. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <pony.h>

int main(void)
{
	struct pony_app *a = pony_connect("/nonexistent/pony.sock", NULL);
	if (a != NULL || errno != ENOENT) {
		fprintf(stderr, "expected ENOENT, got %p errno %d\n", (void *)a, errno);
		return 1;
	}
	const char *why = pony_connect_error();
	if (strstr(why, "/nonexistent/pony.sock") == NULL) {
		fprintf(stderr, "unclear error: %s\n", why);
		return 1;
	}
	printf("ok: %s; %s\n", why, pony_strerror(-EACCES));
	return 0;
}
