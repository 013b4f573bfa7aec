"""How long requester Markdown takes to render, on the inputs that made Python-Markdown quadratic (security issue 7).

Markdown is rendered once per save (marketplace/text.py); a page view only fills the prompt's placeholders into
the stored HTML and sanitizes it again. Both are printed beside their floors; nothing is asserted.

.venv/bin/python -m benchmarks.markdown [repeats]
"""

import sys
import time
from importlib.metadata import version

SIZES = (2_000, 10_000, 50_000)
SAVE_FLOOR_SECONDS = 5.0  # per field, at 50,000 characters (the instructions' limit), once per save
LINEAR_FLOOR_RATIO = 10.0  # time at 50,000 over time at 10,000: 5 when linear (plus GC and noise), 25 when quadratic
RATIO_FROM_SECONDS = 0.05  # below this at 50,000 characters the ratio is timer noise
REALISTIC_FLOOR_SECONDS = 0.05  # a realistic 5 KB description
VIEW_FLOOR_SECONDS = 0.05  # filling a stored prompt per page view, at the prompt's limit
OLD_RENDERER_SIZE = 2_000  # Python-Markdown is shown at this size only: at 50,000 "[" it took minutes

PATHOLOGICAL = {
    '"["': lambda n: "[" * n,
    '"*"': lambda n: "*" * n,
    '"> " (nested quotes)': lambda n: "> " * (n // 2),
    '"- " (nested lists)': lambda n: "- " * (n // 2) + "x",
    '"> - " (both)': lambda n: "> - " * (n // 4) + "x",
    '"`"': lambda n: "`" * n,
    '"` a"': lambda n: "` a" * (n // 3),
    '"a" + "[](" * n': lambda n: "a" + "[](" * (n // 3),
    '"!["': lambda n: "![" * (n // 2),
    '"*_"': lambda n: "*_" * (n // 2),
    '"<a "': lambda n: "<a " * (n // 3),
    "table rows": lambda n: "|a|b|\n|-|-|\n" + "|x|y|\n" * ((n - 12) // 6),
}

REALISTIC_PARAGRAPH = (
    "Read each **product review** and decide whether the customer is *happy*, *unhappy* or both. Reviews come "
    "from [our shop](https://shop.example/reviews) and are in English; some use `emoji` or ~~typos~~. "
)
REALISTIC_BLOCK = (
    "## What to look for\n\n"
    + REALISTIC_PARAGRAPH * 2
    + "\n\n- Praise for the product\n- Complaints about delivery\n  - late\n  - damaged\n\n"
    + "| Mood | Answer |\n|:-|-:|\n| happy | Positive |\n| angry | Negative |\n\n"
    + "> Judge the whole review, not single words.\n\n"
)


def best_time(function, *args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    from core.text import MAX_INSTRUCTIONS_CHARS, MAX_PROMPT_CHARS, html_excerpt, render_markdown
    from marketplace.answer_forms import MAX_PROMPT_PLACEHOLDER_USES, fill_prompt, render_prompt_html

    try:
        import markdown as python_markdown
    except ImportError:
        python_markdown = None

    print(
        f"markdown-it-py {version('markdown-it-py')} (CommonMark, tables, strikethrough) + nh3 {version('nh3')}, "
        f"best of {repeats}; the instructions may hold {MAX_INSTRUCTIONS_CHARS:,} characters"
    )
    header = "".join(f"{size:>12,}" for size in SIZES)
    old_column = f"   Python-Markdown at {OLD_RENDERER_SIZE:,}" if python_markdown else ""
    print(f"{'input':<24}{header}   50k/10k{old_column}")
    worst, worst_ratio = 0.0, 0.0
    for name, make in PATHOLOGICAL.items():
        seconds = [best_time(render_markdown, make(size), repeats=repeats) for size in SIZES]
        ratio = seconds[2] / max(seconds[1], 1e-9)
        worst = max(worst, seconds[2])
        if seconds[2] >= RATIO_FROM_SECONDS:
            worst_ratio = max(worst_ratio, ratio)
        row = "".join(f"{value:>10.3f} s" for value in seconds)
        old = ""
        if python_markdown:
            old_renderer = python_markdown.Markdown(extensions=["tables", "sane_lists"])
            try:
                old = f"{best_time(old_renderer.convert, make(OLD_RENDERER_SIZE), repeats=1):>20.3f} s"
            except RecursionError:
                old = f"{'RecursionError':>22}"
        print(f"{name:<24}{row}{ratio:>10.1f}{old}")
    print(
        f"floor: every input under {SAVE_FLOOR_SECONDS:.0f} s at 50,000 characters: worst {worst:.2f} s "
        f"{verdict(worst <= SAVE_FLOOR_SECONDS)}"
    )
    print(
        f"floor: 50k/10k under {LINEAR_FLOOR_RATIO:.0f} (linear is 5, quadratic 25) where 50k takes "
        f"{RATIO_FROM_SECONDS * 1000:.0f} ms or more: worst {worst_ratio:.1f} "
        f"{verdict(worst_ratio <= LINEAR_FLOOR_RATIO)}"
    )

    description = (REALISTIC_BLOCK * 20)[:5_000]
    realistic = best_time(lambda: html_excerpt(render_markdown(description)), repeats=repeats)
    print(
        f"realistic 5 KB description, rendered with its excerpt: {realistic * 1000:.1f} ms "
        f"(floor {REALISTIC_FLOOR_SECONDS * 1000:.0f} ms) {verdict(realistic <= REALISTIC_FLOOR_SECONDS)}"
    )

    # Per view: a stored prompt at its limit, filled with a long value (a CSV cell holds up to 10,000 characters).
    task_input = {"text": "A long review & <b>markup</b>. " * 300, "url": "https://img.example/a.png"}
    prompts = {
        '"[" at the limit': "{{text}} ![photo]({{url}}) " + "[" * (MAX_PROMPT_CHARS - 30),
        '"<" at the limit': "{{text}} " + "<" * (MAX_PROMPT_CHARS - 10),
    }
    for name, prompt in prompts.items():
        stored = render_prompt_html(prompt)
        seconds = best_time(fill_prompt, stored, task_input, repeats=repeats)
        print(
            f"per view, prompt {name} ({len(stored):,} characters stored): {seconds * 1000:.1f} ms "
            f"(floor {VIEW_FLOOR_SECONDS * 1000:.0f} ms) {verdict(seconds <= VIEW_FLOOR_SECONDS)}"
        )
    # Each placeholder repeats its value, so the page grows with uses × value length: the services allow at most
    # MAX_PROMPT_PLACEHOLDER_USES uses, so this is the largest page a prompt makes.
    stored = render_prompt_html("{{text}} " * MAX_PROMPT_PLACEHOLDER_USES)
    seconds = best_time(fill_prompt, stored, task_input, repeats=repeats)
    size = len(fill_prompt(stored, task_input))
    print(
        f"per view, {MAX_PROMPT_PLACEHOLDER_USES} placeholders (the most allowed) of a "
        f"{len(task_input['text']):,}-character value: {seconds * 1000:.1f} ms, {size:,} characters "
        f"(floor {VIEW_FLOOR_SECONDS * 1000:.0f} ms) {verdict(seconds <= VIEW_FLOOR_SECONDS)}"
    )


def verdict(within: bool) -> str:
    return "ok" if within else "OVER THE FLOOR"


if __name__ == "__main__":
    main()
