/*
 * conn_cmds.h - the connection commands' implementations (conn_cmds.c).
 * Thread: the main thread, once, between ts_command_table_init and the
 * start of the workers.
 */
#ifndef TESSERA_CONN_CMDS_H
#define TESSERA_CONN_CMDS_H

/* Gives SELECT, HELLO and CLIENT their implementations (ts_command_bind). */
void ts_conn_commands_bind(void);

#endif
