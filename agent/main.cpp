#include "agent/app/agent_cli.h"

int main(int argc, char** argv) { return vigil::agent::agent_main(argc, argv); }
