import pytest

from forum.models import Reaction

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_adds_a_reaction_to_a_post_and_goes_back_to_it(client, thread, stranger):
    post = thread.posts.get()
    client.force_login(stranger)

    response = client.post(f"/react/post/{post.pk}/", {"kind": "thanks"})

    assert response["Location"] == f"/p/{post.pk}/"
    assert list(post.reactions.values_list("kind", flat=True)) == ["thanks"]


def test_it_takes_a_reaction_back_on_a_second_click(client, thread, stranger):
    client.force_login(stranger)

    client.post(f"/react/thread/{thread.pk}/", {"kind": "like"})
    response = client.post(f"/react/thread/{thread.pk}/", {"kind": "like"})

    assert response["Location"] == thread.get_absolute_url()
    assert not thread.reactions.exists()


@pytest.mark.parametrize(("target", "kind"), [("post", "hug"), ("board", "like")])
def test_it_answers_404_for_an_unknown_kind_or_target(client, thread, stranger, target, kind):
    client.force_login(stranger)

    response = client.post(f"/react/{target}/{thread.posts.get().pk}/", {"kind": kind})

    assert response.status_code == 404
    assert not Reaction.objects.exists()


def test_it_needs_a_logged_in_user_and_a_post(client, thread):
    assert client.post(f"/react/thread/{thread.pk}/", {"kind": "like"})["Location"].startswith(
        "/login/"
    )
    assert not Reaction.objects.exists()


def test_it_lands_back_on_the_post_it_reacted_to(client, thread, stranger):
    post = thread.posts.get()
    client.force_login(stranger)

    response = client.post(f"/react/post/{post.pk}/", {"kind": "insight"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{thread.get_absolute_url()}?page=1#post-{post.pk}"
    assert b'class="reaction mine"' in response.content
    assert 'aria-label="Insight: 1 (yours' in response.content.decode()


def test_it_refuses_a_reaction_by_get(client, thread, stranger):
    client.force_login(stranger)

    assert client.get(f"/react/thread/{thread.pk}/?kind=like").status_code == 405
    assert not Reaction.objects.exists()
