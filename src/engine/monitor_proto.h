/* The protocol between the engine and isola-monitor, shared by both sides.
 *
 * The monitor listens on <runroot>/mon/<id> (SOCK_STREAM). A client sends one
 * command byte; for every command the monitor answers, when the container
 * exits, with the line "<exit code>\n". When the container will not be
 * restarted the connection stays open until the monitor's cleanup (an
 * `isola _cleanup` the monitor execs) has finished: EOF then means the
 * database row is up to date. The monitor writes <ctrdir>/exit
 * ("<code> <unix ns>\n") before it answers, so a reader never depends on it
 * being alive. */
#ifndef ISOLA_ENGINE_MONITOR_PROTO_H
#define ISOLA_ENGINE_MONITOR_PROTO_H

#define MON_CMD_WAIT 'W' /* wait for the exit */
#define MON_CMD_STOP 'S' /* the next exit is a stop: no restart; then wait */
/* The rest of the connection is input for the container's stdin (an
 * attached API client). The monitor answers MON_STDIN_OK, or closes the
 * connection when the container has no open stdin. With _ONCE the
 * connection's EOF closes the container's stdin (Docker's StdinOnce); a
 * pty gets no EOF either way. Other exits are not reported on it. */
#define MON_CMD_STDIN      'I'
#define MON_CMD_STDIN_ONCE 'i'
#define MON_STDIN_OK       'Y'

#define MON_EXIT_FILE "exit"
#define MON_LOG_FILE  "ctr.log"

#endif
