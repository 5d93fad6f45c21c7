from .work import fetch


def main() -> None:
    pages = [fetch(page) for page in range(24)]
    print(f"pkgprog fetched {len(pages)}")


if __name__ == "__main__":
    main()
