import { describe, expect, it } from "vitest";
import { planIdentity } from "../../src/lifecycle/plan-identity.ts";

const GITHUB = { id: 42, fullName: "acme/web" };

describe("planIdentity: what a resync changes of which project is which repository", () => {
  it.each([
    {
      rule: "GitHub agrees: nothing",
      asked: { fullName: "acme/web", repositoryId: 42 },
      holder: { fullName: "acme/web", repositoryId: 42 },
      expected: null,
    },
    {
      rule: "a project from before ids were kept gets its id without a word",
      asked: { fullName: "acme/web", repositoryId: null },
      holder: null,
      expected: null,
    },
    {
      rule: "another id for this name: the project takes GitHub's",
      asked: { fullName: "acme/web", repositoryId: 186853002 },
      holder: null,
      expected: {
        kind: "identity",
        fromId: 186853002,
        toId: 42,
        released: null,
        description:
          "GitHub reports repository id 42 for acme/web, not 186853002 (another repository's): the project takes 42.",
      },
    },
    {
      rule: "another project holds GitHub's id: it is released, keeping its name",
      asked: { fullName: "acme/web", repositoryId: null },
      holder: { fullName: "Codertocat/Hello-World", repositoryId: 42 },
      expected: {
        kind: "identity",
        fromId: null,
        released: "Codertocat/Hello-World",
        description:
          "GitHub reports repository id 42 for acme/web: the project takes it; project Codertocat/Hello-World, which had id 42, keeps its name and history without it.",
      },
    },
  ])("$rule", ({ asked, holder, expected }) => {
    const change = planIdentity(asked, holder, null, GITHUB);
    if (expected === null) expect(change).toBeNull();
    else expect(change).toMatchObject({ project: "acme/web", toName: "acme/web", ...expected });
  });

  it("renamed on GitHub: the project moves, and one under the new name steps aside", () => {
    const asked = { fullName: "acme/old", repositoryId: 42 };
    expect(planIdentity(asked, asked, { fullName: "acme/web", repositoryId: 7 }, GITHUB)).toEqual({
      kind: "renamed",
      project: "acme/old",
      fromId: 42,
      toId: 42,
      toName: "acme/web",
      released: null,
      displaced: "acme/web",
      description:
        "GitHub names the repository acme/web: project acme/old moves there; project acme/web, under that name, steps aside.",
    });
  });

  it("a name kept apart from the repository's project (a rename seen at an event): that project moves there and merges it", () => {
    const holder = { fullName: "acme/old", repositoryId: 42 };
    const keptApart = { fullName: "acme/web", repositoryId: null, keptApart: true };
    const merged = {
      kind: "renamed",
      project: "acme/old",
      fromId: 42,
      toId: 42,
      toName: "acme/web",
      released: null,
      displaced: null,
    };
    // Resynced under the new name, or under the old one: the same change.
    expect(planIdentity(keptApart, holder, null, GITHUB)).toMatchObject(merged);
    expect(planIdentity(keptApart, holder, null, GITHUB)?.description).toContain(
      "project acme/web, kept apart under that name, is merged into it",
    );
    expect(planIdentity(holder, holder, keptApart, GITHUB)).toMatchObject(merged);
    expect(planIdentity(holder, holder, keptApart, GITHUB)?.description).toContain(
      "project acme/web, kept apart under that name, is merged into it",
    );
    // Without events carrying the id, a project under the new name steps aside as before.
    const other = { fullName: "acme/web", repositoryId: null };
    expect(planIdentity(holder, holder, other, GITHUB)).toMatchObject({ displaced: "acme/web" });
  });

  it("a repository just added, whose id a project has under an old name: that project moves", () => {
    const holder = { fullName: "acme/old", repositoryId: 42 };
    expect(planIdentity(null, holder, null, GITHUB)).toMatchObject({
      kind: "renamed",
      project: "acme/old",
      toName: "acme/web",
      displaced: null,
    });
    expect(planIdentity(null, null, null, GITHUB)).toBeNull();
  });
});
