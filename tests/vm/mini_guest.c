/* Writes a tiny test kernel: mini_guest OUT FORMAT [FLAVOR]
 * FORMAT: pvh64 pvh32 elf64 elf32 bzimage; FLAVOR: poweroff reset triple spin loop. */
#include "mini_guest.h"

int main(int argc, char **argv)
{
        enum mini_flavor fl = MINI_POWEROFF;
        int rc;

        if (argc < 3) {
                fprintf(stderr, "usage: mini_guest OUT pvh64|pvh32|elf64|elf32|bzimage "
                                "[poweroff|reset|triple|spin|loop]\n");
                return 2;
        }
        if (argc > 3)
                fl = !strcmp(argv[3], "reset")    ? MINI_RESET
                     : !strcmp(argv[3], "triple") ? MINI_TRIPLE
                     : !strcmp(argv[3], "spin")   ? MINI_SPIN
                     : !strcmp(argv[3], "loop")   ? MINI_LOOP
                                                  : MINI_POWEROFF;
        if (!strcmp(argv[2], "bzimage"))
                rc = mini_write_bzimage(argv[1], 0x20f, fl, 0);
        else
                rc = mini_write_elf(argv[1], strcmp(argv[2], "pvh32") && strcmp(argv[2], "elf32"),
                                    !strncmp(argv[2], "pvh", 3), fl, 0);
        if (rc < 0) {
                perror(argv[1]);
                return 1;
        }
        return 0;
}
