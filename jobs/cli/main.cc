#include "jobs/cli/commands.h"

int main(int argc, char** argv) { return nephron::cli::Main(argc, argv); }
