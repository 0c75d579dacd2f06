"""The anchor of ``lifecycle_load.py``: the least a FastAPI POST route can do (parse a JSON body, answer one)."""

from fastapi import FastAPI

app = FastAPI()


@app.post("/echo")
async def echo(body: dict) -> dict:
    return {"id": body.get("id")}
