#include "topupd/app/app.hpp"

int main(int argc, char** argv) { return topupd::app::main_with_args(argc, argv); }
