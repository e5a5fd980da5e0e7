/* Prints how three syscalls that podman's default seccomp profile treats
 * differently from no profile end: the engine tests compare the answers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
        long r = syscall(SYS_userfaultfd, 0);
        printf("userfaultfd=%s\n", r < 0 ? strerror(errno) : "ok");
        r = syscall(SYS_add_key, "user", "x", "y", 1, -2);
        printf("add_key=%s\n", r < 0 ? strerror(errno) : "ok");
        r = syscall(SYS_vmsplice, -1, 0, 0, 0);
        printf("vmsplice=%s\n", r < 0 ? strerror(errno) : "ok");
        return 0;
}
