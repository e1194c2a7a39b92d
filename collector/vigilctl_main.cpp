#include "collector/app/vigilctl_cli.h"

int main(int argc, char** argv) { return vigil::collector::vigilctl_main(argc, argv); }
