/*
 * command.c - what the descriptor says about a call: its key positions
 * and whether its argument count fits (command.h).
 */
#include "tessera/route/command.h"

bool ts_command_check_arity(const ts_command *cmd, int argc, const ts_arg *argv, ts_reply *r)
{
    (void)argv;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        ts_reply_errorf(r, "ERR wrong number of arguments for '%s' command", cmd->name);
        return false;
    }
    return true;
}

int ts_command_keys(const ts_command *cmd, int argc, const ts_arg *argv, int *pos, int max)
{
    if (cmd->getkeys) return cmd->getkeys(argc, argv, pos, max);
    if (cmd->first_key <= 0) return 0;
    int last = cmd->last_key >= 0 ? cmd->last_key : argc + cmd->last_key;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc && n < max; i += cmd->key_step) pos[n++] = i;
    return n;
}
