/* Built by the RFL harness with clang against the kernel's tools/include/nolibc. */
#include "modules.h"

/*
 * A marker is one whole line in one write. It goes to /dev/kmsg, so it is one printk record
 * and no kernel message printed at the same moment can split it on the serial console
 * (nolibc's printf writes a line in several pieces, and the console interleaved them with
 * a deferred doctest message). Without /dev/kmsg, one write to the console.
 */
static char line[512];
static long len;

static void put(const char *s)
{
	while (*s && len < (long)sizeof(line) - 2)
		line[len++] = *s++;
}

static void put_num(long n)
{
	char digits[24];
	int i = 0;
	if (n < 0) {
		put("-");
		n = -n;
	}
	do {
		digits[i++] = '0' + n % 10;
		n /= 10;
	} while (n && i < 23);
	while (i)
		line[len < (long)sizeof(line) - 2 ? len++ : len] = digits[--i];
}

static void say(const char *a, const char *b, long n, int with_n)
{
	static int kmsg = -2;
	if (kmsg == -2)
		kmsg = open("/dev/kmsg", O_WRONLY);
	len = 0;
	put("RFL-INIT: ");
	put(a);
	put(" ");
	put(b);
	if (with_n) {
		put(" ");
		put_num(n);
	}
	line[len++] = '\n';
	if (kmsg < 0 || write(kmsg, line, len) != len)
		write(1, line, len);
}

/*
 * Is `word` one of the white-space separated words of buf[0..n]? A whole word only: a
 * `kunit.filter_glob=rfl.hold` holds the letters but is not the word.
 */
static int has_word(const char *buf, long n, const char *word)
{
	long i, j;
	for (i = 0; i < n; i++) {
		if (i > 0 && buf[i - 1] != ' ' && buf[i - 1] != '\n' && buf[i - 1] != '\t')
			continue;
		for (j = 0; word[j] && i + j < n && buf[i + j] == word[j]; j++)
			;
		if (!word[j] && (i + j == n || buf[i + j] == ' ' || buf[i + j] == '\n' ||
				 buf[i + j] == '\t' || buf[i + j] == 0))
			return 1;
	}
	return 0;
}

/* Does the kernel command line hold `word`? (Older nolibc has no strstr.) */
static int cmdline_has(const char *word)
{
	static char buf[1024];
	long n;
	int fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && has_word(buf, n, word);
}

int main(void)
{
	int i;
	say("start", "", 0, 0);
	/* The Rust modules built in: their init ran as an initcall before this one. */
	for (i = 0; builtin[i]; i++)
		say("builtin", builtin[i], 0, 0);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, 0);
	for (i = 0; modules[i].path; i++) {
		int fd = open(modules[i].path, O_RDONLY);
		long r;
		if (fd < 0) {
			say("load-failed", modules[i].name, errno, 1);
			continue;
		}
		say("load", modules[i].name, 0, 0);
		r = syscall(__NR_finit_module, fd, "", 0);
		close(fd);
		if (r < 0) {
			say("load-failed", modules[i].name, errno, 1);
			continue;
		}
		say("loaded", modules[i].name, 0, 0);
		r = syscall(__NR_delete_module, modules[i].name, O_NONBLOCK);
		if (r < 0)
			say("unload-failed", modules[i].name, errno, 1);
		else
			say("unloaded", modules[i].name, 0, 0);
	}
	say("done", "", 0, 0);
	/* `rfl.hold` (repro --interactive): stay up, the console stays the user's. */
	if (cmdline_has("rfl.hold")) {
		say("holding", "(rfl.hold): the kernel stays up; quit QEMU with Ctrl-A X", 0, 0);
		for (;;)
			sleep(1000);
	}
	reboot(LINUX_REBOOT_CMD_RESTART);
	say("reboot-failed", "", errno, 1);
	for (;;)
		sleep(1000);
	return 0;
}
