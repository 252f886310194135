"""Completion answers from the live object even when the code sent carries earlier lines."""

from __future__ import annotations

from serverkit import SignedClient, text_of

IMAGE = "python:3.11-ubuntu20.04"
SETUP = "import pandas as pd\n\ndf = pd.DataFrame({'alpha': [1, 2], 'beta': [3, 4]})\n"


async def complete(client: SignedClient, sid: str, code: str, post: str = "") -> list[str]:
    line = code.rsplit("\n", 1)[-1]
    options = {"row": code.count("\n"), "col": len(line), "line": line + post, "post": post}
    reply = await client.request(
        "POST", f"/session/{sid}/complete", json_body={"code": code, "options": options}
    )
    assert reply.status == 200, reply.body
    completions: list[str] = reply.json()["result"]["completions"]
    return completions


async def test_columns_of_a_live_dataframe_with_the_buffer_before_the_cursor(
    client: SignedClient,
) -> None:
    await client.create("compl-live", IMAGE)
    await client.run("compl-live", SETUP)
    # The buffer that defined df is sent too: the names are still those of the live frame.
    names = await complete(client, "compl-live", SETUP + "df.al")
    assert names == ["df.align", "df.all", "df.alpha"]
    assert await complete(client, "compl-live", SETUP + "df.ke") == ["df.keys"]
    # Text after the cursor on the line, and lines after it, do not disturb the answer.
    names = await complete(client, "compl-live", SETUP + "total = df.be", post=".sum()")
    assert names == ["df.beta", "df.between_time"]
    names = await complete(client, "compl-live", "df['al")
    assert names == ["alpha"]


async def test_the_kernel_completes_with_the_plain_runtime_completer(
    client: SignedClient,
) -> None:
    await client.create("compl-setup", IMAGE)
    ran = await client.run("compl-setup", "print(get_ipython().Completer.use_jedi)")
    assert text_of(ran["console"]) == "False\n"
    await client.run("compl-setup", SETUP)
    # Every public name of the frame, columns included, in the kernel's order.
    names = await complete(client, "compl-setup", "df.")
    assert {"df.alpha", "df.beta", "df.keys", "df.groupby"} <= set(names)
    assert not any(name.startswith("df._") for name in names)
    assert names.index("df.alpha") < names.index("df.beta")
