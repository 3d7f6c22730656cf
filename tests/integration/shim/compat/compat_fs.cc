// std::filesystem on a mount: what remove, remove_all, canonical and
// current_path return, and the texts of the exceptions libstdc++ throws.
#include <filesystem>
#include <iostream>
#include <string>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  std::string c = argv[1];
  try {
    if (c == "remove") {
      bool removed = fs::remove(argv[2]);
      std::cout << "remove " << removed << " exists " << fs::exists(argv[2]) << "\n";
    } else if (c == "remove_all") {
      auto n = fs::remove_all(argv[2]);
      std::cout << "remove_all " << n << " exists " << fs::exists(argv[2]) << "\n";
    } else if (c == "paths") {
      fs::current_path(argv[2]);
      std::cout << "current_path " << fs::current_path().string() << "\n";
      std::cout << "canonical " << fs::canonical(".").string() << "\n";
      std::cout << "file_size " << fs::file_size("no-such-file") << "\n";
    }
  } catch (const fs::filesystem_error& e) {
    std::cout << "error: " << e.what() << "\n";
  }
  return 0;
}
