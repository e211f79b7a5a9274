# Writes tests/data/schemas/pydantic_*.json: real JSON Schemas as Pydantic 2
# (model_json_schema(); these were made with pydantic 2.13.4) writes them for
# the models users pass to structured output. Not run by the tests:
#   python3 tests/data/schemas/make_pydantic_schemas.py tests/data/schemas
import json, sys, datetime, enum
from typing import Annotated, Literal, Optional, Union
from pydantic import BaseModel, Field, conlist

class Color(str, enum.Enum):
    red = "red"
    green = "green"

class Address(BaseModel):
    street: str
    city: str = Field(description="the city")

class Person(BaseModel):
    name: str
    age: int
    nickname: Optional[str] = None
    color: Color
    kind: Literal["human", "robot"]
    home: Address
    work: Optional[Address] = Field(default=None, description="where they work")
    tags: conlist(str, min_length=1, max_length=3)
    scores: dict[str, float]
    born: datetime.date
    id: Union[int, str]

class Node(BaseModel):
    value: int
    children: list["Node"] = []

class Cat(BaseModel):
    pet_type: Literal["cat"]
    meows: int

class Dog(BaseModel):
    pet_type: Literal["dog"]
    barks: float

class Owner(BaseModel):
    pet: Union[Cat, Dog] = Field(discriminator="pet_type")

class Limited(BaseModel):
    code: str = Field(max_length=8)

class Review(BaseModel):
    stars: int = Field(ge=1, le=5)
    confidence: float = Field(gt=0, lt=1)
    price: Optional[Annotated[float, Field(ge=0)]] = None
    pet: Optional[Union[Cat, Dog]] = Field(default=None, discriminator="pet_type")

out = sys.argv[1]
for name, model in [("person", Person), ("tree", Node), ("discriminated", Owner), ("limited", Limited),
                    ("bounded", Review)]:
    with open(f"{out}/pydantic_{name}.json", "w") as f:
        json.dump(model.model_json_schema(), f, indent=2)
        f.write("\n")
