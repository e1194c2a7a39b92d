#include "collector/app/collector_cli.h"

int main(int argc, char** argv) { return vigil::collector::collector_main(argc, argv); }
