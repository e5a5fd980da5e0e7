/* isola-pause: the infra process of a kube pod. It holds the pod's network
 * namespace while the pod's containers come and go, reaps anything
 * re-parented to it, and exits 0 on SIGTERM or SIGINT. libc only, static. */
#include <signal.h>
#include <sys/wait.h>

int main(void)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGCHLD);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (;;) {
                int sig = sigwaitinfo(&set, NULL);

                if (sig == SIGTERM || sig == SIGINT)
                        return 0;
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}
