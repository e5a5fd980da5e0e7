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

#define MON_EXIT_FILE "exit"
#define MON_LOG_FILE  "ctr.log"

#endif
