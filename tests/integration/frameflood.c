/* frameflood: send N pseudo-random Ethernet frames out of an interface through an AF_PACKET
 * socket (bounded count, seeded), to check that snapnetd survives malformed input. A third
 * are random bytes, a third claim IPv4 and a third claim ARP, all addressed to `dst-mac`
 * so they get past the MAC filter into the parsers. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t rng;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: frameflood IFACE COUNT DST-MAC SEED\n");
		return 2;
	}
	unsigned char dst[6];
	long count = atol(argv[2]);
	rng = strtoull(argv[4], NULL, 0) | 1;
	if (sscanf(argv[3], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst[0], &dst[1], &dst[2], &dst[3],
		   &dst[4], &dst[5]) != 6 || count <= 0 || count > 10000000) {
		fprintf(stderr, "frameflood: bad arguments\n");
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(argv[1]),
				  .sll_halen = 6};
	if (sll.sll_ifindex == 0) {
		perror("if_nametoindex");
		return 1;
	}
	memcpy(sll.sll_addr, dst, 6);
	unsigned char f[1514];
	long sent = 0, errs = 0;
	for (long i = 0; i < count; i++) {
		size_t len = 14 + next_rand() % (sizeof(f) - 14 + 1);
		for (size_t j = 0; j < len; j++)
			f[j] = (unsigned char)next_rand();
		unsigned kind = next_rand() % 3;
		if (kind) {
			memcpy(f, dst, 6);
			f[12] = kind == 1 ? 0x08 : 0x08;
			f[13] = kind == 1 ? 0x00 : 0x06;
			if (kind == 1 && len > 14 + 20 && next_rand() % 2)
				f[14] = 0x45; /* plausible IPv4 version/IHL: reach deeper checks */
		}
		if (sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			errs++;
			if (errno == ENOBUFS)
				usleep(100);
		} else {
			sent++;
		}
	}
	printf("frameflood: sent %ld frames (%ld send errors)\n", sent, errs);
	close(fd);
	return sent >= count * 9 / 10 ? 0 : 1;
}
