/* isola-runtime: the runc-compatible entry point. */
#include "cli/verbs.h"

int main(int argc, char **argv)
{
        return runtime_main(argc, argv);
}
