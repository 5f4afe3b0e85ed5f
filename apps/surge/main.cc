// surge: the command-line program (work in progress).
int main() { return 2; }
