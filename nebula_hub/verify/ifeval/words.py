"""Everyday English nouns the constraint generator draws keywords and first words from.

IFEval's own list is not needed for checking (checkers read keywords from kwargs); this one is ours: common, concrete,
single-token words that fit most prompts, so generated keyword constraints stay natural and satisfiable.
"""

KEYWORDS: list[str] = sorted(
    set(
        """
        account action address advice airport animal answer apple area argument army article artist attention
        autumn balance ball bank basket beach bedroom bicycle bird birthday blanket boat body book border bottle
        branch bread breakfast bridge brother budget building business button cabinet cake calendar camera candle
        capital car card career castle cat chair chapter cheese chicken child chocolate church city class climate
        clock cloud coast coffee college color community company computer concert contract corner cost cotton
        country courage course cousin culture customer dance daughter decision desert design detail diamond diet
        dinner direction doctor dog door dream driver earth economy editor education effort election energy engine
        evening event exercise experience factory family farm father feather festival field finger fire fish flag
        flight floor flower forest fortune friend fruit future garden gate gift glass goal gold government grass
        group guitar habit hammer harbor health heart history holiday honey horse hospital hotel house idea island
        jacket journey judge key kitchen knife knowledge ladder lake language laptop lawyer leader lemon lesson
        letter library light lion list machine magazine manager map market meal medicine memory message method
        minute mirror moment money month moon morning mountain movie museum music nation nature neighbor network
        newspaper night notebook ocean office opinion orange owner painting paper parent park party passenger
        pattern pencil people pepper phone photo piano picture planet plant plate player pocket poem police pocket
        potato power president problem product program project promise question radio rain reason recipe record
        region report research restaurant result river road rocket roof room rule salad school science season
        secret shadow shoe shop silver sister skill sky smile snow society soldier song soup speech spring square
        station stone storm story street student study sugar summer sun system table teacher team television
        temple theory ticket tiger time tomato tool tower town traffic train tree trip truck uncle university
        valley village violin voice volcano water weather wedding wheel window winter wolf wood world writer year
        """.split()
    )
)
